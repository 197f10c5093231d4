"""Points (portal/points): the rules and their history, each person's account row (the lock, the
opt-in to the public board), the ledger, partners, their rewards and the redemption codes; a
partner account's partner (users.partner_id)

Revision ID: 0016_points
Revises: 0015_station_hall
Create Date: 2026-12-07 08:16:46
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_points'
down_revision = '0015_station_hall'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=6), nullable=False),
    sa.Column('address', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('shop', 'town')", name=op.f('ck_partners_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('name', name=op.f('uq_partners_name'))
    )
    op.create_table('rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('points > 0', name=op.f('ck_rewards_points_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_rewards_stock_not_negative')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_rewards_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards'))
    )
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rewards_partner_id'), ['partner_id'], unique=False)

    op.create_table('point_accounts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('named', sa.Boolean(), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_point_accounts_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_point_accounts'))
    )
    op.create_table('point_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('monthly_cap', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("source IN ('hours', 'wish', 'civil_act', 'order')", name=op.f('ck_point_rules_source')),
    sa.CheckConstraint('monthly_cap IS NULL OR monthly_cap >= 0', name=op.f('ck_point_rules_cap_not_negative')),
    sa.CheckConstraint('points >= 0', name=op.f('ck_point_rules_points_not_negative')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_point_rules_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_rules'))
    )
    op.create_table('redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('spent_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('issued', 'spent', 'expired')", name=op.f('ck_redemptions_status')),
    sa.ForeignKeyConstraint(['confirmed_by'], ['users.id'], name=op.f('fk_redemptions_confirmed_by_users')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_redemptions_partner_id_partners')),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_redemptions_reward_id_rewards')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_redemptions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('code', name=op.f('uq_redemptions_code'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_due', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_redemptions_partner', ['partner_id', 'status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_redemptions_user_id'), ['user_id'], unique=False)

    op.create_table('point_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('source_type', sa.String(length=10), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('worth', sa.Integer(), nullable=True),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('grant', 'reversal', 'redemption', 'refund')", name=op.f('ck_point_entries_kind')),
    sa.CheckConstraint("points <> 0 OR kind IN ('grant', 'reversal')", name=op.f('ck_point_entries_points_not_zero')),
    sa.ForeignKeyConstraint(['rule_id'], ['point_rules.id'], name=op.f('fk_point_entries_rule_id_point_rules')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_point_entries_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_entries')),
    sa.UniqueConstraint('source_type', 'source_id', 'seq', name='uq_point_entries_source')
    )
    with op.batch_alter_table('point_entries', schema=None) as batch_op:
        batch_op.create_index('ix_point_entries_month', ['month', 'source_type'], unique=False)
        batch_op.create_index('ix_point_entries_user', ['user_id', 'id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_partner_id'), ['partner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_partner_id_partners'), 'partners', ['partner_id'], ['id'])



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_partner_id_partners'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_partner_id'))
        batch_op.drop_column('partner_id')

    with op.batch_alter_table('point_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_point_entries_user')
        batch_op.drop_index('ix_point_entries_month')

    op.drop_table('point_entries')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemptions_user_id'))
        batch_op.drop_index('ix_redemptions_partner')
        batch_op.drop_index('ix_redemptions_due')

    op.drop_table('redemptions')
    op.drop_table('point_rules')
    op.drop_table('point_accounts')
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rewards_partner_id'))

    op.drop_table('rewards')
    op.drop_table('partners')
