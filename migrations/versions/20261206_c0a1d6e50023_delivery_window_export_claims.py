"""outbox retries for a time window: when a delivery was first tried; how often an export was claimed

A delivery that fails for a transient reason (a mail server or webhook receiver down) is retried until
IAS_DELIVERY_RETRY_HOURS after its first attempt, not for a number of attempts: `first_attempt_at` is set
by the first claim. Rows queued before have none; their next claim sets it, so their window starts then.

An export whose runner dies (out of memory, killed) is taken over when its lease lapses, but only so
often: `claims` counts the runners that took it, and after app/exports/runner.py's MAX_CLAIMS it is
failed instead of taken again. Exports made before count as never claimed.

Revision ID: c0a1d6e50023
Revises: c0a1d6e50022
Create Date: 2026-12-06 23:40:00
"""

# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "c0a1d6e50023"
down_revision = "c0a1d6e50022"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True))
    # A server default: web workers still running the code before this migration queue exports too.
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claims", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_column("claims")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("first_attempt_at")
