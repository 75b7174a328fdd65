"""villages: the 村/社区 under each township, former units' codes, and a record's village

Revision ID: c0a1d6e50010
Revises: c0a1d6e50008
Create Date: 2026-12-06 06:45:00
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

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


# revision identifiers, used by Alembic.
revision = "c0a1d6e50010"
down_revision = "c0a1d6e50008"
branch_labels = None
depends_on = None


def upgrade():
    # Village-level units (村/社区, 12-digit NBS codes); rows come from `flask district load`.
    op.create_table(
        "villages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("short_name", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_villages_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_villages")),
        sa.UniqueConstraint("code", name=op.f("uq_villages_code")),
    )
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_villages_township_id"), ["township_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_villages_short_name"), ["short_name"], unique=False)

    # Codes old records carry (梁平县 500228 …) and today's unit where that is known.
    op.create_table(
        "former_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("today_code", sa.String(length=12), nullable=True),
        sa.Column("changed_in", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_former_units")),
        sa.UniqueConstraint("code", name=op.f("uq_former_units_code")),
    )

    # A record's village, where known (the contract: records carry township and village; control
    # operations and sites carry neither directly, so only observations get the column).
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a nullable column with its reference in place; batch mode would copy the table and
        # drop the old one, which with foreign keys on trips over the photos that point at records.
        op.execute(
            "ALTER TABLE observations ADD COLUMN village_id INTEGER "
            "CONSTRAINT fk_observations_village_id_villages REFERENCES villages (id)"
        )
    else:
        with op.batch_alter_table("observations", schema=None) as batch_op:
            batch_op.add_column(sa.Column("village_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f("fk_observations_village_id_villages"), "villages", ["village_id"], ["id"]
            )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_village_id"), ["village_id"], unique=False)


def downgrade():
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_observations_village_id_villages"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_observations_village_id"))
        batch_op.drop_column("village_id")

    op.drop_table("former_units")
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_villages_short_name"))
        batch_op.drop_index(batch_op.f("ix_villages_township_id"))

    op.drop_table("villages")
