"""records found by their sender and client_uuid

A phone's retry finds the earlier try of its client_uuid among its sender's own records in any
organization, not only in the organization the sender belongs to now: a surveyor moved to another
organization retries records whose first try was stored before the move (app/idempotency.py,
docs/contract.md §3.2). Each table made once per client_uuid gets a (sender, client_uuid) index for that
look-up; it replaces the sender's own index, which it serves as well (its first column), so a create
writes no more index entries than before.

Revision ID: c0a1d6e50030
Revises: c0a1d6e50029
Create Date: 2026-12-07 08:00:00

"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op

# revision identifiers, used by Alembic.
revision = "c0a1d6e50030"
down_revision = "c0a1d6e50029"
branch_labels = None
depends_on = None

# (table, sender column)
TABLES = (
    ("observations", "surveyor_id"),
    ("control_operations", "operator_id"),
    ("survey_routes", "surveyor_id"),
    ("survey_plots", "surveyor_id"),
)


def upgrade():
    for table, sender in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f"ix_{table}_{sender}_client_uuid", [sender, "client_uuid"], unique=False)
            batch_op.drop_index(f"ix_{table}_{sender}")


def downgrade():
    for table, sender in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f"ix_{table}_{sender}", [sender], unique=False)
            batch_op.drop_index(f"ix_{table}_{sender}_client_uuid")
