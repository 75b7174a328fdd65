"""Every domain's models, imported in one place so the app and Alembic see the whole schema."""

from app.accounts.models import ApiToken, Organization, User
from app.audit.models import AuditLog
from app.district.models import District, Township, TownshipAlias
from app.species.models import ListMembership, Species, SpeciesList, SpeciesName

__all__ = [
    "ApiToken",
    "AuditLog",
    "District",
    "ListMembership",
    "Organization",
    "Species",
    "SpeciesList",
    "SpeciesName",
    "Township",
    "TownshipAlias",
    "User",
]
