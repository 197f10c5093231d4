"""stations.usage_version: moves with every change to the places taken at a station

Revision ID: 0003_usage_version
Revises: 0002_booking
Create Date: 2026-11-22 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003_usage_version'
down_revision = '0002_booking'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('usage_version', sa.String(length=16), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_column('usage_version')
