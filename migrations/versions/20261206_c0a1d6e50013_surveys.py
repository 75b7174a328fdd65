"""surveys: campaigns with their species and units, routes, plots, quadrats; records know their campaign

The survey domain (docs/surveys.md): a campaign (调查任务) with target species and units (townships or
villages) assigned to surveyors; 踏查 routes (GPS tracks kept point by point, with their LineString, length
and duration); plots (样地) at sites with quadrats (样方) and what each species measured in them. An
observation may name the campaign it was made for, and the route that was running (by the route's client
UUID: the phone may send the record before the route).

Revision ID: c0a1d6e50013
Revises: c0a1d6e50012
Create Date: 2026-12-06 09:30:00
"""
# Rules for migrations (reviewed code, not generated output): see the first migration of the chain.
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
# Python None is SQL NULL (not JSON null), as app.db.NullableJSON.
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(astext_type=sa.Text(), none_as_null=True), 'postgresql'
)
UTC = sa.DateTime(timezone=True)

# revision identifiers, used by Alembic.
revision = 'c0a1d6e50013'
down_revision = 'c0a1d6e50012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_campaigns',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id'), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('kind', sa.Enum('census', 'monitoring', 'special', name='campaignkind', native_enum=False, length=20), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
    )
    op.create_index('ix_survey_campaigns_organization_id', 'survey_campaigns', ['organization_id'])
    op.create_table(
        'survey_campaign_species',
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey('survey_campaigns.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('species_id', sa.Integer(), sa.ForeignKey('species.id'), primary_key=True),
    )
    op.create_table(
        'survey_units',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey('survey_campaigns.id', ondelete='CASCADE'), nullable=False),
        sa.Column('township_id', sa.Integer(), sa.ForeignKey('townships.id'), nullable=False),
        sa.Column('village_id', sa.Integer(), sa.ForeignKey('villages.id'), nullable=True),
        sa.Column('unit_code', sa.String(12), nullable=False),
        sa.Column('assignee_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.UniqueConstraint('campaign_id', 'unit_code'),
    )
    op.create_index('ix_survey_units_campaign_id', 'survey_units', ['campaign_id'])
    op.create_index('ix_survey_units_assignee_id', 'survey_units', ['assignee_id'])
    op.create_table(
        'survey_routes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('client_uuid', sa.Uuid(native_uuid=False), nullable=False),
        sa.Column('payload_sha256', sa.String(64), nullable=False),
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id'), nullable=False),
        sa.Column('surveyor_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey('survey_campaigns.id'), nullable=True),
        sa.Column('unit_id', sa.Integer(), sa.ForeignKey('survey_units.id'), nullable=True),
        sa.Column('started_at', UTC, nullable=False),
        sa.Column('ended_at', UTC, nullable=False),
        sa.Column('points', JSON, nullable=False),
        sa.Column('geometry', NULLABLE_JSON, nullable=True),
        sa.Column('length_m', sa.Double(), nullable=False),
        sa.Column('duration_s', sa.Integer(), nullable=False),
        sa.Column('point_count', sa.Integer(), nullable=False),
        sa.Column('poor_point_count', sa.Integer(), nullable=False),
        sa.Column('min_lon', sa.Double(), nullable=True),
        sa.Column('min_lat', sa.Double(), nullable=True),
        sa.Column('max_lon', sa.Double(), nullable=True),
        sa.Column('max_lat', sa.Double(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.UniqueConstraint('organization_id', 'client_uuid'),
    )
    for column in ('organization_id', 'surveyor_id', 'campaign_id', 'unit_id'):
        op.create_index(f'ix_survey_routes_{column}', 'survey_routes', [column])
    op.create_table(
        'survey_plots',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('client_uuid', sa.Uuid(native_uuid=False), nullable=False),
        sa.Column('payload_sha256', sa.String(64), nullable=False),
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id'), nullable=False),
        sa.Column('surveyor_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('site_id', sa.Integer(), sa.ForeignKey('sites.id'), nullable=False),
        sa.Column('campaign_id', sa.Integer(), sa.ForeignKey('survey_campaigns.id'), nullable=True),
        sa.Column('surveyed_at', UTC, nullable=False),
        sa.Column('shape', sa.Enum('square', 'rectangle', 'circle', 'strip', name='plotshape', native_enum=False, length=20), nullable=False),
        sa.Column('area_m2', sa.Double(), nullable=False),
        sa.Column('length_m', sa.Double(), nullable=True),
        sa.Column('width_m', sa.Double(), nullable=True),
        sa.Column('latitude', sa.Double(), nullable=True),
        sa.Column('longitude', sa.Double(), nullable=True),
        sa.Column('habitat_id', sa.Integer(), sa.ForeignKey('habitats.id'), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.UniqueConstraint('organization_id', 'client_uuid'),
    )
    for column in ('organization_id', 'surveyor_id', 'site_id', 'campaign_id'):
        op.create_index(f'ix_survey_plots_{column}', 'survey_plots', [column])
    op.create_table(
        'survey_quadrats',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('plot_id', sa.Integer(), sa.ForeignKey('survey_plots.id', ondelete='CASCADE'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('size_m2', sa.Double(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.UniqueConstraint('plot_id', 'number'),
    )
    op.create_index('ix_survey_quadrats_plot_id', 'survey_quadrats', ['plot_id'])
    op.create_table(
        'survey_quadrat_records',
        sa.Column('quadrat_id', sa.Integer(), sa.ForeignKey('survey_quadrats.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('species_id', sa.Integer(), sa.ForeignKey('species.id'), primary_key=True),
        sa.Column('cover_pct', sa.Double(), nullable=True),
        sa.Column('density_per_m2', sa.Double(), nullable=True),
        sa.Column('height_cm', sa.Double(), nullable=True),
        sa.Column('count', sa.Integer(), nullable=True),
    )
    with op.batch_alter_table('observations') as batch:
        batch.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('route_uuid', sa.Uuid(native_uuid=False), nullable=True))
        batch.create_foreign_key('fk_observations_campaign_id_survey_campaigns', 'survey_campaigns', ['campaign_id'], ['id'])
        batch.create_index('ix_observations_campaign_id', ['campaign_id'])
        batch.create_index('ix_observations_route_uuid', ['route_uuid'])


def downgrade():
    with op.batch_alter_table('observations') as batch:
        batch.drop_index('ix_observations_route_uuid')
        batch.drop_index('ix_observations_campaign_id')
        batch.drop_constraint('fk_observations_campaign_id_survey_campaigns', type_='foreignkey')
        batch.drop_column('route_uuid')
        batch.drop_column('campaign_id')
    op.drop_table('survey_quadrat_records')
    op.drop_table('survey_quadrats')
    op.drop_table('survey_plots')
    op.drop_table('survey_routes')
    op.drop_table('survey_units')
    op.drop_table('survey_campaign_species')
    op.drop_table('survey_campaigns')
