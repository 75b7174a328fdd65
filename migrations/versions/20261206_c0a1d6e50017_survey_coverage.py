"""survey coverage: the reminders raised about survey units, one per unit, kind and day

Coverage itself is computed, not stored (docs/surveys.md, Coverage). What is stored is which reminders
were raised (docs/surveys.md, Reminders): a unit not started as its due day nears reminds its assignee, an
overdue one the campaign's supervisors; (unit, kind, day) is the key that keeps a pass run twice from
reminding twice.

Revision ID: c0a1d6e50017
Revises: c0a1d6e50014
Create Date: 2026-12-06 09:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa

UTC = sa.DateTime(timezone=True)

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50017'
down_revision = 'c0a1d6e50014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_unit_reminders',
        sa.Column('unit_id', sa.Integer(), sa.ForeignKey('survey_units.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.PrimaryKeyConstraint('unit_id', 'kind', 'day'),
    )


def downgrade():
    op.drop_table('survey_unit_reminders')
