from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from app.accounts import organizations, services, tokens
from app.accounts.auth import public, roles_required
from app.accounts.models import Organization, Role, User
from app.accounts.schemas import (
    OrganizationCreateArgs,
    OrganizationSchema,
    OrganizationUpdateArgs,
    PasswordChangeArgs,
    TokenArgs,
    TokenSchema,
    UserCreateArgs,
    UserQueryArgs,
    UserSchema,
    UserUpdateArgs,
    UserUpdatedSchema,
)
from app.api import PageArgs, page_of, paginate
from app.errors import InvalidInput

blp = Blueprint("Accounts", __name__, description="Organizations, users and API tokens")


@blp.route("/auth/tokens")
class Tokens(MethodView):
    @public
    @blp.arguments(TokenArgs)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, description="Wrong username or password")
    @blp.alt_response(429, description="Too many failed attempts; see Retry-After")
    @blp.doc(security=[])
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Exchange a username and password for a bearer token"""
        # A failed attempt is counted and audited by the service, even though this request then fails.
        user = services.authenticate(
            username=args["username"], password=args["password"], ip=request.remote_addr
        )
        plain, token = tokens.issue_token(user)
        return {"token": plain, "expires_at": token.expires_at, "user": user}


@blp.route("/auth/tokens/current")
class CurrentToken(MethodView):
    @blp.response(204)
    def delete(self) -> None:
        """Revoke the bearer token this request is made with (sign out an API client)"""
        token = g.get("api_token")
        if token is None:
            raise InvalidInput.field("Authorization", _("This request was not made with a bearer token."))
        tokens.revoke_token(token)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self) -> Any:
        """The signed-in user"""
        return current_user._get_current_object()


@blp.route("/me/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChangeArgs)
    @blp.response(204)
    @blp.alt_response(429, description="Too many wrong current passwords; see Retry-After")
    def post(self, args: dict[str, Any]) -> None:
        """Change the signed-in user's own password; every other session and token of theirs ends"""
        services.change_own_password(
            current_user._get_current_object(),
            current_password=args["current_password"],
            new_password=args["new_password"],
            ip=request.remote_addr,
            keep_session=g.get("user_session"),
            keep_token=g.get("api_token"),
        )


@blp.route("/organizations")
class Organizations(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(OrganizationSchema))
    def get(self, page: int, per_page: int) -> dict[str, Any]:
        """Organizations (bureaus, commissions, stations), each with the bureau it reports to (`parent`)"""
        stmt = services.list_organizations().options(sa.orm.selectinload(Organization.parent))
        return paginate(stmt, page=page, per_page=per_page)

    @roles_required(Role.ADMIN)
    @blp.arguments(OrganizationCreateArgs)
    @blp.response(201, OrganizationSchema)
    @blp.alt_response(409, description="The code is taken")
    def post(self, args: dict[str, Any]) -> Organization:
        """Create an organization (admins); `parent` names the bureau a unit reports to"""
        organization = organizations.create_organization(actor=current_user, **args)
        return organization


@blp.route("/organizations/<code>")
class OrganizationItem(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(OrganizationUpdateArgs)
    @blp.response(200, OrganizationSchema)
    def patch(self, args: dict[str, Any], code: str) -> Organization:
        """Change an organization's name, kind or parent (admins); `parent: null` detaches it"""
        organization = organizations.get_by_code(code)
        changed = organizations.update_organization(
            actor=current_user, organization=organization, changes=args
        )
        return changed


@blp.route("/users")
class Users(MethodView):
    @roles_required(*services.USER_MANAGERS)
    @blp.arguments(UserQueryArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(UserSchema))
    def get(self, page: int, per_page: int, **filters: Any) -> dict[str, Any]:
        """Users the caller manages (all for admin; for bureau_admin their organization and its units)"""
        stmt = services.visible_users(current_user)
        if "role" in filters:
            stmt = stmt.where(User.role == filters["role"])
        if "active" in filters:
            stmt = stmt.where(User.active == filters["active"])
        if "organization" in filters:
            stmt = stmt.where(User.organization_id == services.get_organization(filters["organization"]).id)
        return paginate(stmt, page=page, per_page=per_page)

    @roles_required(*services.USER_MANAGERS)
    @blp.arguments(UserCreateArgs)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="The username is taken")
    def post(self, args: dict[str, Any]) -> User:
        """Create a user (admin: any organization; bureau_admin: their own or a unit under it, not admin)"""
        user = services.create_user(
            actor=current_user,
            username=args["username"],
            password=args["password"],
            display_name=args["display_name"],
            role=args["role"],
            organization_code=args["organization"],
            email=args.get("email"),
        )
        return user


@blp.route("/users/<int:user_id>")
class UserItem(MethodView):
    @roles_required(*services.USER_MANAGERS)
    @blp.response(200, UserSchema)
    def get(self, user_id: int) -> User:
        """One user"""
        return services.get_managed_user(current_user, user_id)

    @roles_required(*services.USER_MANAGERS)
    @blp.arguments(UserUpdateArgs)
    @blp.response(200, UserUpdatedSchema)
    def patch(self, args: dict[str, Any], user_id: int) -> services.UserUpdated:
        """Change a user's role, organization, name, e-mail or password, or deactivate them

        Moving a user to another organization or deactivating them hands their pending re-inspections
        of the organization they left back to its supervisor; `follow_ups_handed_back` says how many."""
        return services.update_user(
            actor=current_user, user=services.get_managed_user(current_user, user_id), changes=args
        )
