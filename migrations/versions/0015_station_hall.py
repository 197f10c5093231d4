"""The station hall (portal/desk/tickets.py): tickets and their per-day counters, each
station's number of windows, and the version of its desk queue

Revision ID: 0015_station_hall
Revises: 0014_station_days
Create Date: 2026-12-07 04:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_station_hall'
down_revision = '0014_station_days'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ticket_counters',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('prefix', sa.String(length=1), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_ticket_counters_station_id_stations')),
    sa.PrimaryKeyConstraint('station_id', 'day', 'prefix', name=op.f('pk_ticket_counters'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('prefix', sa.String(length=1), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('window_no', sa.Integer(), nullable=True),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.Column('order_at', sa.DateTime(), nullable=False),
    sa.Column('called_at', sa.DateTime(), nullable=True),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('waiting', 'called', 'served', 'skipped')", name=op.f('ck_tickets_status')),
    sa.CheckConstraint('window_no IS NULL OR window_no BETWEEN 1 AND 99', name=op.f('ck_tickets_window')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_tickets_booking_id_bookings')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_tickets_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_tickets_booking_id')),
    sa.UniqueConstraint('code', name=op.f('uq_tickets_code')),
    sa.UniqueConstraint('station_id', 'day', 'prefix', 'number', name='uq_tickets_number')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_calls', ['station_id', 'day', 'called_at'], unique=False)
        batch_op.create_index('ix_tickets_queue', ['station_id', 'day', 'status', 'order_at'], unique=False)

    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('windows', sa.Integer(), server_default='2', nullable=False))
        batch_op.add_column(sa.Column('queue_version', sa.String(length=16), server_default='0', nullable=False))
        batch_op.create_check_constraint('windows', 'windows BETWEEN 1 AND 99')



def downgrade():
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_column('queue_version')
        batch_op.drop_column('windows')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_queue')
        batch_op.drop_index('ix_tickets_calls')

    op.drop_table('tickets')
    op.drop_table('ticket_counters')
