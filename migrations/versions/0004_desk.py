"""desk: responsible clerk and desk times on bookings, proxy handling, materials checks,
ratings and follow-up cases, the working-day calendar, home-visit scheduling

Revision ID: 0004_desk
Revises: 0003_usage_version
Create Date: 2026-11-23 10:30:52.778280

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_desk'
down_revision = '0003_usage_version'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('material_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('checked_by', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_material_checks_booking_id_bookings')),
    sa.ForeignKeyConstraint(['checked_by'], ['users.id'], name=op.f('fk_material_checks_checked_by_users')),
    sa.ForeignKeyConstraint(['material_id'], ['materials.id'], name=op.f('fk_material_checks_material_id_materials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_checks')),
    sa.CheckConstraint("state IN ('brought', 'missing', 'not_needed')", name=op.f('ck_material_checks_state')),
    sa.UniqueConstraint('booking_id', 'material_id', name='uq_material_checks_booking_material')
    )
    with op.batch_alter_table('material_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_checks_booking_id'), ['booking_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('responsible_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("channel IN ('kiosk', 'online')", name=op.f('ck_ratings_channel')),
    sa.CheckConstraint('level BETWEEN 1 AND 5', name=op.f('ck_ratings_level')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_ratings_booking_id_bookings')),
    sa.ForeignKeyConstraint(['responsible_id'], ['users.id'], name=op.f('fk_ratings_responsible_id_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_ratings_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_ratings_booking_id'))
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_station_id'), ['station_id'], unique=False)

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('callback_due', sa.Date(), nullable=False),
    sa.Column('rectify_due', sa.Date(), nullable=False),
    sa.Column('called_back_at', sa.DateTime(), nullable=True),
    sa.Column('called_back_by', sa.Integer(), nullable=True),
    sa.Column('callback_note', sa.Text(), nullable=False),
    sa.Column('rectified_at', sa.DateTime(), nullable=True),
    sa.Column('rectified_by', sa.Integer(), nullable=True),
    sa.Column('rectify_note', sa.Text(), nullable=False),
    sa.Column('replied_at', sa.DateTime(), nullable=True),
    sa.Column('replied_by', sa.Integer(), nullable=True),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['called_back_by'], ['users.id'], name=op.f('fk_follow_ups_called_back_by_users')),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_follow_ups_rating_id_ratings')),
    sa.ForeignKeyConstraint(['rectified_by'], ['users.id'], name=op.f('fk_follow_ups_rectified_by_users')),
    sa.ForeignKeyConstraint(['replied_by'], ['users.id'], name=op.f('fk_follow_ups_replied_by_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_follow_ups_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_follow_ups_rating_id'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_station_id'), ['station_id'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responsible_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checked_in_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('forwarded_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('returned_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('id_card', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('proxy_name', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('proxy_phone', sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column('proxy_id_card', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('proxy_relation', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('supplement_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_responsible_id'), ['responsible_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_bookings_responsible_id_users'), 'users', ['responsible_id'], ['id'])

    with op.batch_alter_table('home_visit_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('clerk_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('done_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_home_visit_requests_clerk_id_users'), 'users', ['clerk_id'], ['id'])



def downgrade():
    with op.batch_alter_table('home_visit_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_home_visit_requests_clerk_id_users'), type_='foreignkey')
        batch_op.drop_column('done_at')
        batch_op.drop_column('outcome')
        batch_op.drop_column('clerk_id')
        batch_op.drop_column('visit_at')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bookings_responsible_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_bookings_responsible_id'))
        batch_op.drop_column('supplement_note')
        batch_op.drop_column('proxy_relation')
        batch_op.drop_column('proxy_id_card')
        batch_op.drop_column('proxy_phone')
        batch_op.drop_column('proxy_name')
        batch_op.drop_column('id_card')
        batch_op.drop_column('returned_at')
        batch_op.drop_column('forwarded_at')
        batch_op.drop_column('finished_at')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('checked_in_at')
        batch_op.drop_column('responsible_id')

    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_station_id'))

    op.drop_table('follow_ups')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_station_id'))

    op.drop_table('ratings')
    with op.batch_alter_table('material_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_checks_booking_id'))

    op.drop_table('material_checks')
    op.drop_table('calendar_days')
