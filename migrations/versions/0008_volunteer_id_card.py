"""volunteers.id_card unique: one volunteer record per person, whichever account registers

Revision ID: 0008_volunteer_id_card
Revises: 0007_volunteer
Create Date: 2026-11-23 15:00:00

"""
from alembic import op


revision = '0008_volunteer_id_card'
down_revision = '0007_volunteer'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_volunteers_id_card'), ['id_card'])


def downgrade():
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_volunteers_id_card'), type_='unique')
