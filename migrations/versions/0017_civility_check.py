"""The civility loop closes: a moderator's check (验收) of a rectified item (checked_at, the
rectification state "checked"), and residents' likes (点赞) of red-list items

Revision ID: 0017_civility_check
Revises: 0016_points
Create Date: 2026-12-07 08:36:08
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_civility_check'
down_revision = '0016_points'
branch_labels = None
depends_on = None

RECTIFICATION = ("rectification IS NULL OR rectification IN "
                 "('assigned', 'rectifying', 'rectified'{})")


def upgrade():
    op.create_table('civility_likes',
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['civility_reports.id'], name=op.f('fk_civility_likes_report_id_civility_reports')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_civility_likes_user_id_users')),
    sa.PrimaryKeyConstraint('report_id', 'user_id', name=op.f('pk_civility_likes'))
    )
    with op.batch_alter_table('civility_likes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_civility_likes_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('civility_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(), nullable=True))
        batch_op.drop_constraint(op.f('ck_civility_reports_rectification'), type_='check')
        batch_op.create_check_constraint('rectification', RECTIFICATION.format(", 'checked'"))



def downgrade():
    op.execute("UPDATE civility_reports SET rectification = 'rectified' "
               "WHERE rectification = 'checked'")
    with op.batch_alter_table('civility_reports', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_civility_reports_rectification'), type_='check')
        batch_op.create_check_constraint('rectification', RECTIFICATION.format(""))
        batch_op.drop_column('checked_at')

    with op.batch_alter_table('civility_likes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civility_likes_user_id'))

    op.drop_table('civility_likes')
