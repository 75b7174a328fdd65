"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

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
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
