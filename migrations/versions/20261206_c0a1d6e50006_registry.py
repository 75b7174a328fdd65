"""species registry kept in the app (district lists, local edits, membership periods, census category)

Revision ID: c0a1d6e50006
Revises: c0a1d6e50005
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

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


# revision identifiers, used by Alembic.
revision = 'c0a1d6e50006'
down_revision = 'c0a1d6e50005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('species', schema=None) as batch_op:
        batch_op.add_column(sa.Column('names_en', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('pinyin_overrides', JSON, nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('census_categories', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('origin', sa.Enum('files', 'local', name='origin', native_enum=False, length=10), nullable=False, server_default='files'))
        batch_op.add_column(sa.Column('local_aliases', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('local_synonyms', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('local_names_en', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('local_pinyin', JSON, nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('local_bureaus', JSON, nullable=True))

    with op.batch_alter_table('species_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.Enum('files', 'local', name='origin', native_enum=False, length=10), nullable=False, server_default='files'))
        batch_op.add_column(sa.Column('bureau', sa.String(length=40), nullable=True))

    # Membership becomes periods: a species removed and added back gets a second row.
    with op.batch_alter_table('list_memberships', schema=None) as batch_op:
        batch_op.drop_constraint('uq_list_memberships_list_id_species_id', type_='unique')
        batch_op.create_index('ix_list_memberships_list_id_species_id', ['list_id', 'species_id'], unique=False)
        batch_op.create_index('uq_list_memberships_open_period', ['list_id', 'species_id'], unique=True,
                              postgresql_where=sa.text('removed_on IS NULL'),
                              sqlite_where=sa.text('removed_on IS NULL'))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmation_note', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_list_memberships_confirmed_by_id_users'), 'users', ['confirmed_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('list_memberships', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_list_memberships_confirmed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('confirmation_note')
        batch_op.drop_column('confirmed_by_id')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_index('uq_list_memberships_open_period')
        batch_op.drop_index('ix_list_memberships_list_id_species_id')
    # The old schema has one row per species and list: only the latest period survives the way back.
    op.execute(
        'DELETE FROM list_memberships WHERE EXISTS (SELECT 1 FROM list_memberships later '
        'WHERE later.list_id = list_memberships.list_id AND later.species_id = list_memberships.species_id '
        'AND later.id > list_memberships.id)'
    )
    with op.batch_alter_table('list_memberships', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_list_memberships_list_id_species_id', ['list_id', 'species_id'])

    # Dropped in place (SQLite >= 3.35 can): recreating these tables would, with foreign keys on, cascade
    # the delete of the old table to every list row and search name that points at it.
    with op.batch_alter_table('species_lists', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('bureau')
        batch_op.drop_column('origin')

    with op.batch_alter_table('species', schema=None, recreate='never') as batch_op:
        for column in ('local_bureaus', 'local_pinyin', 'local_names_en', 'local_synonyms', 'local_aliases',
                       'origin', 'census_categories', 'pinyin_overrides', 'names_en'):
            batch_op.drop_column(column)
