"""Resident activities: an activity's kind (volunteer service, or an activity for residents),
and sign-ups held by a resident's name and phone (volunteer_id empty; one place per phone)

Revision ID: 0018_resident_activities
Revises: 0017_civility_check
Create Date: 2026-12-07 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_resident_activities'
down_revision = '0017_civility_check'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volunteer_activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='service', nullable=False))
        batch_op.create_check_constraint('kind', "kind IN ('service', 'resident')")

    with op.batch_alter_table('volunteer_signups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=11), nullable=True))
        batch_op.alter_column('volunteer_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_volunteer_signups_user_id'), ['user_id'], unique=False)
        batch_op.create_unique_constraint('uq_signups_activity_phone', ['activity_id', 'phone'])
        batch_op.create_foreign_key(batch_op.f('fk_volunteer_signups_user_id_users'), 'users', ['user_id'], ['id'])
        batch_op.create_check_constraint('someone', 'volunteer_id IS NOT NULL OR phone IS NOT NULL')



def downgrade():
    op.execute("DELETE FROM volunteer_signups WHERE volunteer_id IS NULL")
    with op.batch_alter_table('volunteer_signups', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_volunteer_signups_someone'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_volunteer_signups_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint('uq_signups_activity_phone', type_='unique')
        batch_op.drop_index(batch_op.f('ix_volunteer_signups_user_id'))
        batch_op.alter_column('volunteer_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('phone')
        batch_op.drop_column('name')
        batch_op.drop_column('user_id')

    with op.batch_alter_table('volunteer_activities', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_volunteer_activities_kind'), type_='check')
        batch_op.drop_column('kind')

