"""survey coverage: reserved (no change to the schema yet)

Revision ID: c0a1d6e50017
Revises: c0a1d6e50016
Create Date: 2026-12-06 09:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50017'
down_revision = 'c0a1d6e50016'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
