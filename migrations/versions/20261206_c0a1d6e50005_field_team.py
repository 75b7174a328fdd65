"""follow-up assignees, notifications read state

Revision ID: c0a1d6e50005
Revises: c0a1d6e50004
Create Date: 2026-12-06 03:45:00
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
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'c0a1d6e50005'
down_revision = 'c0a1d6e50004'
branch_labels = None
depends_on = None


def upgrade():
    # The person a control operation's re-inspections go to (empty on older operations).
    with op.batch_alter_table('control_operations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_control_operations_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_control_operations_assignee_id_users'), 'users', ['assignee_id'], ['id']
        )
    # Notifications by message name and values, written in the reader's language when read; older
    # rows keep their stored text.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_key', sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column(
                'params',
                sa.JSON(none_as_null=True).with_variant(
                    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'
                ),
                nullable=True,
            )
        )


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('params')
        batch_op.drop_column('message_key')
    with op.batch_alter_table('control_operations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_control_operations_assignee_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_control_operations_assignee_id'))
        batch_op.drop_column('assignee_id')
