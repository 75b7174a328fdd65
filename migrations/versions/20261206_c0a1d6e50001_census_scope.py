"""census scope (organization parent) and counting

Revision ID: c0a1d6e50001
Revises: 811b1568fe45
Create Date: 2026-12-06 03:45:00

Organizations get an optional `parent`: the bureau a township station, forest farm or wetland park
reports to. A bureau's census covers its own records and those of the units under it.
An export now belongs to the exported bureau (`bureau`), not to the requester's organization;
`organization_id` is NULL for the district census. Existing exports are moved to their bureau.
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
revision = 'c0a1d6e50001'
down_revision = '811b1568fe45'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_organizations_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_organizations_parent_id_organizations'), 'organizations', ['parent_id'], ['id']
        )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=True)
    op.execute(
        "UPDATE exports SET organization_id = "
        "(SELECT organizations.id FROM organizations WHERE organizations.code = exports.bureau) "
        "WHERE EXISTS (SELECT 1 FROM organizations WHERE organizations.code = exports.bureau)"
    )


def downgrade():
    # District exports had no single owner; they go with their requester's organization again.
    op.execute(
        "UPDATE exports SET organization_id = "
        "(SELECT users.organization_id FROM users WHERE users.id = exports.requested_by_id) "
        "WHERE organization_id IS NULL"
    )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_organizations_parent_id_organizations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_organizations_parent_id'))
        batch_op.drop_column('parent_id')
