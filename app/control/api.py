from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from app.api import page_of, paginate
from app.control import follow_ups, services
from app.control.models import ControlOperation, FollowUp
from app.control.schemas import (
    ControlMethodSchema,
    ControlOperationAnswerSchema,
    ControlOperationCreateArgs,
    ControlOperationQueryArgs,
    ControlOperationSchema,
    FollowUpCompleteArgs,
    FollowUpCreateArgs,
    FollowUpQueryArgs,
    FollowUpSchema,
    FollowUpUpdateArgs,
)
from app.errors import InvalidInput
from app.photos.api import PhotoUploadArgs, StageArgs
from app.photos.api import blp as photos_blp
from app.photos.models import Photo
from app.photos.schemas import StagedPhotoSchema
from app.species.services import list_control_methods

blp = Blueprint("Control", __name__, description="Control operations and the follow-ups they schedule")


@blp.route("/control-methods")
class ControlMethods(MethodView):
    @blp.response(200, ControlMethodSchema(many=True))
    def get(self) -> Any:
        """The control method catalogue and the fields each method records (name, unit, range)"""
        return list_control_methods()


@blp.route("/control-operations")
class ControlOperations(MethodView):
    @blp.arguments(ControlOperationQueryArgs, location="query")
    @blp.response(200, page_of(ControlOperationSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Control operations, most recent first"""
        filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
        return paginate(services.filtered_operations(filters), page=args["page"], per_page=args["per_page"])

    @blp.arguments(ControlOperationCreateArgs)
    @blp.response(201, ControlOperationAnswerSchema)
    @blp.alt_response(
        200, schema=ControlOperationAnswerSchema, description="A retry: the operation made the first time"
    )
    @blp.alt_response(409, description="The client_uuid was already used for a different operation")
    def post(self, args: dict[str, Any]) -> tuple[ControlOperation, int]:
        """Record a control operation; its follow-ups are scheduled and returned with it

        `site_id` or `observation_id` names what was treated. Follow-ups fall due after the
        species × method schedule (or `follow_up_days`), plus a next-spring check where the species
        has one, assigned to `assignee_id` (by default the one recording); the organization's
        supervisor is told when they fall due or overdue, and again when they are days late.
        The baseline the efficacy is measured against is `observation_id` when given (a record of the
        site from before the treatment, not a rejected one), else the site's latest such record.
        A day on which the site already has a re-inspection pending for the organization (a second
        operation of the day) gets no second one: the answer lists that one in `joined_follow_ups`.
        """
        operation, created = services.create_control_operation(actor=current_user, args=args)
        return operation, 201 if created else 200


@blp.route("/control-operations/<int:operation_id>")
class ControlOperationItem(MethodView):
    @blp.response(200, ControlOperationAnswerSchema)
    def get(self, operation_id: int) -> ControlOperation:
        """One control operation with its follow-ups and photos"""
        return services.get_operation(operation_id)


@blp.route("/follow-ups")
class FollowUps(MethodView):
    @blp.arguments(FollowUpQueryArgs, location="query")
    @blp.response(200, page_of(FollowUpSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Follow-ups (re-inspections), soonest due first; `overdue` is judged in Asia/Shanghai"""
        filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
        return paginate(follow_ups.filtered_follow_ups(filters), page=args["page"], per_page=args["per_page"])

    @blp.arguments(FollowUpCreateArgs)
    @blp.response(201, FollowUpSchema)
    def post(self, args: dict[str, Any]) -> FollowUp:
        """Schedule a re-inspection of any site by hand (supervisors)"""
        follow_up = follow_ups.create_manual_follow_up(
            actor=current_user,
            site_id=args["site_id"],
            due_on=args["due_on"],
            assignee_id=args.get("assignee_id"),
            note=args.get("note"),
        )
        return follow_up


@blp.route("/follow-ups/<int:follow_up_id>")
class FollowUpItem(MethodView):
    @blp.response(200, FollowUpSchema)
    def get(self, follow_up_id: int) -> FollowUp:
        """One follow-up"""
        return follow_ups.get_follow_up(follow_up_id)

    @blp.arguments(FollowUpUpdateArgs)
    @blp.response(200, FollowUpSchema)
    @blp.alt_response(409, description="Already done or cancelled")
    def patch(self, args: dict[str, Any], follow_up_id: int) -> FollowUp:
        """Reassign, reschedule or cancel a follow-up (supervisors of its organization or its bureau)"""
        if not args:
            raise InvalidInput(_("Send at least one field to change."), {"_schema": [_("empty body")]})
        follow_up = follow_ups.update_follow_up(
            actor=current_user, follow_up=follow_ups.get_follow_up(follow_up_id), changes=args
        )
        return follow_up


@blp.route("/follow-ups/<int:follow_up_id>/complete")
class FollowUpComplete(MethodView):
    @blp.arguments(FollowUpCompleteArgs)
    @blp.response(200, FollowUpSchema)
    @blp.alt_response(409, description="Already done or cancelled")
    def post(self, args: dict[str, Any], follow_up_id: int) -> FollowUp:
        """Complete a re-inspection with its observation; returns the follow-up with `efficacy`

        Efficacy compares the observation with the operation's baseline: reduction % per metric and,
        with an untreated check plot, Henderson–Tilton corrected efficacy on density.
        """
        follow_up = follow_ups.complete_follow_up(
            actor=current_user,
            follow_up=follow_ups.get_follow_up(follow_up_id),
            observation_args=args["observation"],
        )
        return follow_up


@blp.route("/follow-ups/<int:follow_up_id>/accept")
class FollowUpAccept(MethodView):
    @blp.response(200, FollowUpSchema)
    @blp.alt_response(409, description="Not a completed re-inspection recorded far from its site")
    def post(self, follow_up_id: int) -> FollowUp:
        """Accept a re-inspection recorded far from its site (supervisors of its organization or bureau)

        A re-inspection farther than 3 × IAS_SITE_RADIUS_M from its site is marked `far_from_site`
        and its efficacy is left out until a supervisor accepts it here; accepting computes it.
        Accepting again changes nothing.
        """
        follow_up = follow_ups.accept_far_follow_up(
            actor=current_user, follow_up=follow_ups.get_follow_up(follow_up_id)
        )
        return follow_up


@photos_blp.route("/control-operations/<int:operation_id>/photos")
class OperationPhotos(MethodView):
    @photos_blp.arguments(PhotoUploadArgs, location="files")
    @photos_blp.arguments(StageArgs, location="query")
    @photos_blp.response(201, StagedPhotoSchema)
    @photos_blp.alt_response(200, schema=StagedPhotoSchema, description="The same photo was already attached")
    @photos_blp.alt_response(422, description="A damaged or incomplete image")
    def post(self, args: dict[str, Any], form: dict[str, Any], operation_id: int) -> tuple[Photo, int]:
        """Attach a before or after photo to a control operation (multipart `file`; `?stage=before|after`)"""
        upload = args["file"]
        photo, created = services.add_photo(
            actor=current_user,
            operation=services.get_operation(operation_id),
            stage=form["stage"],
            data=upload.read(),
            filename=upload.filename,
        )
        return photo, 201 if created else 200
