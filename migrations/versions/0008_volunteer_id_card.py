"""volunteers.id_card unique: one volunteer record per person, whichever account registers

Revision ID: 0008_volunteer_id_card
Revises: 0007_volunteer
Create Date: 2026-11-23 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008_volunteer_id_card'
down_revision = '0007_volunteer'
branch_labels = None
depends_on = None


def upgrade():
    twice = op.get_bind().execute(sa.text(
        "SELECT id_card, count(*) FROM volunteers GROUP BY id_card HAVING count(*) > 1")).all()
    if twice:  # one person, several volunteer records: a person has to decide which one stays
        raise RuntimeError(
            f"{len(twice)} ID numbers have more than one volunteer record (volunteers.id_card); "
            "merge or remove the extra records first, then run the upgrade again")
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_volunteers_id_card'), ['id_card'])


def downgrade():
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_volunteers_id_card'), type_='unique')
