"""known_devices: the "signed in here before" cookie is a random token the server knows, not
the phone number

Revision ID: 0009_known_devices
Revises: 0008_volunteer_id_card
Create Date: 2026-12-01 10:00:00

Cookies of the old kind (the signed phone number) simply stop counting: such a browser is
throttled like any other until its next successful sign-in gives it a token.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_known_devices'
down_revision = '0008_volunteer_id_card'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('known_devices',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_known_devices_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', 'user_id', name=op.f('pk_known_devices'))
    )


def downgrade():
    op.drop_table('known_devices')
