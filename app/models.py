"""Every domain's models, imported in one place so the app and Alembic see the whole schema."""

from app.accounts.models import ApiToken, Organization, User
from app.audit.models import AuditLog
from app.control.models import ControlOperation, FollowUp
from app.district.models import District, Township, TownshipAlias
from app.exports.models import Export
from app.notifications.models import Delivery, Notification, Webhook
from app.observations.models import Observation, ObservationFlag
from app.photos.models import Photo
from app.refdata import reference_version
from app.scheduler.models import SchedulerLease
from app.sites.models import Site
from app.species.models import ControlMethod, Habitat, ListMembership, Species, SpeciesList, SpeciesName
from app.surveys.models import Campaign, Plot, Quadrat, QuadratRecord, Route, SurveyUnit

__all__ = [
    "ApiToken",
    "AuditLog",
    "Campaign",
    "ControlMethod",
    "ControlOperation",
    "Delivery",
    "District",
    "Export",
    "FollowUp",
    "Habitat",
    "ListMembership",
    "Notification",
    "Observation",
    "ObservationFlag",
    "Organization",
    "Photo",
    "Plot",
    "Quadrat",
    "QuadratRecord",
    "Route",
    "SchedulerLease",
    "Site",
    "Species",
    "SpeciesList",
    "SpeciesName",
    "SurveyUnit",
    "Township",
    "TownshipAlias",
    "User",
    "Webhook",
    "reference_version",
]
