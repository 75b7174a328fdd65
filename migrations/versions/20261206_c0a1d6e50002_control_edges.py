"""efficacy edges, next-spring checks and legacy imports

Revision ID: c0a1d6e50002
Revises: c0a1d6e50001
Create Date: 2026-12-06 03:45:00

Follow-ups learn how far their re-inspection was from the site, and whether a supervisor accepted a
far one; observations keep the surveyor a legacy workbook named when no colleague matched.
"""
# Rules for migrations (reviewed code, not generated output):
# - Generate with `flask db migrate -m "..."`, then read and edit; autogenerate misses renames and data.
# - Never import app code here: a migration must run the same way years from now.
# - Batch mode (op.batch_alter_table) for every ALTER, so SQLite can follow.
# - Reference data (species, townships) is loaded by `flask species sync` / `flask district load`,
#   never by a migration.
# - One head: tests/test_migrations.py fails on a branch; merge before landing.
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0a1d6e50002'
down_revision = 'c0a1d6e50001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('distance_m', sa.Double(), nullable=True))
        batch_op.add_column(
            sa.Column('far_from_site', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('far_accepted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('far_accepted_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_follow_ups_far_accepted_by_id_users', 'users', ['far_accepted_by_id'], ['id']
        )
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_surveyor', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_column('legacy_surveyor')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_constraint('fk_follow_ups_far_accepted_by_id_users', type_='foreignkey')
        batch_op.drop_column('far_accepted_by_id')
        batch_op.drop_column('far_accepted_at')
        batch_op.drop_column('far_from_site')
        batch_op.drop_column('distance_m')
