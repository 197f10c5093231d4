"""station_days and station_months: per station and booked day, and per station and month, the
dashboard's sums (portal/dashboard)

Revision ID: 0014_station_days
Revises: 0013_content_stamps
Create Date: 2026-12-02 01:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_station_days'
down_revision = '0013_content_stamps'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('station_days',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('walk_ins', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('on_the_spot', sa.Integer(), nullable=False),
    sa.Column('forwarded', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('no_show', sa.Integer(), nullable=False),
    sa.Column('waits', sa.Integer(), nullable=False),
    sa.Column('wait_minutes', sa.Float(), nullable=False),
    sa.Column('w0', sa.Integer(), nullable=False),
    sa.Column('w1', sa.Integer(), nullable=False),
    sa.Column('w2', sa.Integer(), nullable=False),
    sa.Column('w3', sa.Integer(), nullable=False),
    sa.Column('w4', sa.Integer(), nullable=False),
    sa.Column('w5', sa.Integer(), nullable=False),
    sa.Column('w6', sa.Integer(), nullable=False),
    sa.Column('w7', sa.Integer(), nullable=False),
    sa.Column('w8', sa.Integer(), nullable=False),
    sa.Column('w9', sa.Integer(), nullable=False),
    sa.Column('l1', sa.Integer(), nullable=False),
    sa.Column('l2', sa.Integer(), nullable=False),
    sa.Column('l3', sa.Integer(), nullable=False),
    sa.Column('l4', sa.Integer(), nullable=False),
    sa.Column('l5', sa.Integer(), nullable=False),
    sa.Column('callback_on_time', sa.Integer(), nullable=False),
    sa.Column('callback_late', sa.Integer(), nullable=False),
    sa.Column('rectify_on_time', sa.Integer(), nullable=False),
    sa.Column('rectify_late', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_days_station_id_stations')),
    sa.PrimaryKeyConstraint('station_id', 'day', name=op.f('pk_station_days'))
    )
    with op.batch_alter_table('station_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_station_days_day'), ['day'], unique=False)

    op.create_table('station_months',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('walk_ins', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('on_the_spot', sa.Integer(), nullable=False),
    sa.Column('forwarded', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('no_show', sa.Integer(), nullable=False),
    sa.Column('waits', sa.Integer(), nullable=False),
    sa.Column('wait_minutes', sa.Float(), nullable=False),
    sa.Column('w0', sa.Integer(), nullable=False),
    sa.Column('w1', sa.Integer(), nullable=False),
    sa.Column('w2', sa.Integer(), nullable=False),
    sa.Column('w3', sa.Integer(), nullable=False),
    sa.Column('w4', sa.Integer(), nullable=False),
    sa.Column('w5', sa.Integer(), nullable=False),
    sa.Column('w6', sa.Integer(), nullable=False),
    sa.Column('w7', sa.Integer(), nullable=False),
    sa.Column('w8', sa.Integer(), nullable=False),
    sa.Column('w9', sa.Integer(), nullable=False),
    sa.Column('l1', sa.Integer(), nullable=False),
    sa.Column('l2', sa.Integer(), nullable=False),
    sa.Column('l3', sa.Integer(), nullable=False),
    sa.Column('l4', sa.Integer(), nullable=False),
    sa.Column('l5', sa.Integer(), nullable=False),
    sa.Column('callback_on_time', sa.Integer(), nullable=False),
    sa.Column('callback_late', sa.Integer(), nullable=False),
    sa.Column('rectify_on_time', sa.Integer(), nullable=False),
    sa.Column('rectify_late', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_months_station_id_stations')),
    sa.PrimaryKeyConstraint('station_id', 'month', name=op.f('pk_station_months'))
    )
    with op.batch_alter_table('station_months', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_station_months_month'), ['month'], unique=False)



def downgrade():
    with op.batch_alter_table('station_months', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_station_months_month'))

    op.drop_table('station_months')
    with op.batch_alter_table('station_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_station_days_day'))

    op.drop_table('station_days')
