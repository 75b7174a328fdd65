"""survey plots: a circular plot's radius; photos of a plot

A plot (样地, docs/surveys.md) is a square, a rectangle, a strip or a circle: a circle is laid by its
radius, kept in `radius_m` beside the other shapes' length and width. A plot has photos like a record or
a control operation: `photos.plot_id`, one parent per photo (the check now counts three parents), and the
same bytes once per plot.

Revision ID: c0a1d6e50014
Revises: c0a1d6e50013
Create Date: 2026-12-06 09:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50014'
down_revision = 'c0a1d6e50013'
branch_labels = None
depends_on = None

TWO_PARENTS = '(observation_id IS NULL) <> (control_operation_id IS NULL)'
THREE_PARENTS = (
    '(CASE WHEN observation_id IS NULL THEN 0 ELSE 1 END)'
    ' + (CASE WHEN control_operation_id IS NULL THEN 0 ELSE 1 END)'
    ' + (CASE WHEN plot_id IS NULL THEN 0 ELSE 1 END) = 1'
)


def upgrade():
    with op.batch_alter_table('survey_plots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('radius_m', sa.Double(), nullable=True))

    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plot_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_photos_plot_id'), ['plot_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_photos_plot_id_sha256'), ['plot_id', 'sha256'])
        batch_op.create_foreign_key(
            batch_op.f('fk_photos_plot_id_survey_plots'), 'survey_plots', ['plot_id'], ['id']
        )
        batch_op.drop_constraint(batch_op.f('ck_photos_one_parent'), type_='check')
        batch_op.create_check_constraint('one_parent', THREE_PARENTS)


def downgrade():
    # A plot's photos have no place in the older schema: their rows go (their files stay in storage).
    op.execute('DELETE FROM photos WHERE plot_id IS NOT NULL')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_photos_one_parent'), type_='check')
        batch_op.create_check_constraint('one_parent', TWO_PARENTS)
        batch_op.drop_constraint(batch_op.f('fk_photos_plot_id_survey_plots'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_photos_plot_id_sha256'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_photos_plot_id'))
        batch_op.drop_column('plot_id')

    with op.batch_alter_table('survey_plots', schema=None) as batch_op:
        batch_op.drop_column('radius_m')
