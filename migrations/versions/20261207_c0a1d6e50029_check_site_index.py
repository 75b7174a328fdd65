"""control operations indexed by their check plot

A new record at a site asks whether a completed re-inspection's efficacy reads that site, as the treated
site or as the check plot (app/control/handlers.py `on_observation_added`); the check plot's side of that
question (and of the re-assessment after an edit, `follow_ups.reassess`) would otherwise read every
control operation for every record.

Revision ID: c0a1d6e50029
Revises: c0a1d6e50028
Create Date: 2026-12-07 05:00:00

"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op

# revision identifiers, used by Alembic.
revision = "c0a1d6e50029"
down_revision = "c0a1d6e50028"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("control_operations", schema=None) as batch_op:
        batch_op.create_index("ix_control_operations_check_site_id", ["check_site_id"], unique=False)


def downgrade():
    with op.batch_alter_table("control_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_control_operations_check_site_id")
