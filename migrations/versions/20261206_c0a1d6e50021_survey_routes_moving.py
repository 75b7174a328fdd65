"""survey routes: moving time and refused routes: reserved (no change to the schema yet)

Revision ID: c0a1d6e50021
Revises: c0a1d6e50020
Create Date: 2026-12-06 12:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50021'
down_revision = 'c0a1d6e50020'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
