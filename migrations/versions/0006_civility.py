"""civility board: departments, report categories, reports with photos and events, weekly
issues, appeals; department accounts

Revision ID: 0006_civility
Revises: 0005_notices_search
Create Date: 2026-11-23 12:25:50.980584

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_civility'
down_revision = '0005_notices_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('name', name=op.f('uq_departments_name'))
    )
    op.create_table('report_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_report_categories_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_categories')),
    sa.UniqueConstraint('name', name=op.f('uq_report_categories_name'))
    )
    op.create_table('civility_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], name=op.f('fk_civility_issues_published_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_civility_issues')),
    sa.UniqueConstraint('number', name=op.f('uq_civility_issues_number'))
    )
    with op.batch_alter_table('civility_issues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_civility_issues_published_at'), ['published_at'], unique=False)

    op.create_table('civility_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('place', sa.String(length=120), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('rectification', sa.String(length=12), nullable=True),
    sa.Column('rectify_due', sa.Date(), nullable=True),
    sa.Column('rectified_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('uncivil', 'praise')", name=op.f('ck_civility_reports_kind')),
    sa.CheckConstraint("rectification IS NULL OR rectification IN ('assigned', 'rectifying', 'rectified')", name=op.f('ck_civility_reports_rectification')),
    sa.CheckConstraint("status IN ('submitted', 'verified', 'rejected', 'merged', 'published', 'withdrawn')", name=op.f('ck_civility_reports_status')),
    sa.ForeignKeyConstraint(['category_id'], ['report_categories.id'], name=op.f('fk_civility_reports_category_id_report_categories')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_civility_reports_department_id_departments')),
    sa.ForeignKeyConstraint(['issue_id'], ['civility_issues.id'], name=op.f('fk_civility_reports_issue_id_civility_issues')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['civility_reports.id'], name=op.f('fk_civility_reports_merged_into_id_civility_reports')),
    sa.ForeignKeyConstraint(['moderator_id'], ['users.id'], name=op.f('fk_civility_reports_moderator_id_users')),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_civility_reports_reporter_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_civility_reports'))
    )
    with op.batch_alter_table('civility_reports', schema=None) as batch_op:
        batch_op.create_index('ix_civility_reports_lists', ['status', 'kind', 'published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_civility_reports_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_civility_reports_issue_id'), ['issue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_civility_reports_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_civility_reports_status'), ['status'], unique=False)

    op.create_table('civility_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'upheld', 'corrected', 'withdrawn')", name=op.f('ck_civility_appeals_status')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_civility_appeals_decided_by_users')),
    sa.ForeignKeyConstraint(['report_id'], ['civility_reports.id'], name=op.f('fk_civility_appeals_report_id_civility_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_civility_appeals'))
    )
    with op.batch_alter_table('civility_appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_civility_appeals_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_civility_appeals_status'), ['status'], unique=False)

    op.create_table('civility_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_civility_events_actor_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['civility_reports.id'], name=op.f('fk_civility_events_report_id_civility_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_civility_events'))
    )
    with op.batch_alter_table('civility_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_civility_events_report_id'), ['report_id'], unique=False)

    op.create_table('civility_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('original', sa.String(length=80), nullable=False),
    sa.Column('original_thumb', sa.String(length=80), nullable=False),
    sa.Column('public', sa.String(length=80), nullable=True),
    sa.Column('public_thumb', sa.String(length=80), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('boxes', sa.Text(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('redacted_by', sa.Integer(), nullable=True),
    sa.Column('redacted_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role IN ('evidence', 'after')", name=op.f('ck_civility_photos_role')),
    sa.ForeignKeyConstraint(['redacted_by'], ['users.id'], name=op.f('fk_civility_photos_redacted_by_users')),
    sa.ForeignKeyConstraint(['report_id'], ['civility_reports.id'], name=op.f('fk_civility_photos_report_id_civility_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_civility_photos'))
    )
    with op.batch_alter_table('civility_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_civility_photos_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_department_id'), ['department_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_department_id_departments'), 'departments', ['department_id'], ['id'])



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_department_id_departments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_department_id'))
        batch_op.drop_column('department_id')

    with op.batch_alter_table('civility_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civility_photos_report_id'))

    op.drop_table('civility_photos')
    with op.batch_alter_table('civility_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civility_events_report_id'))

    op.drop_table('civility_events')
    with op.batch_alter_table('civility_appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civility_appeals_status'))
        batch_op.drop_index(batch_op.f('ix_civility_appeals_report_id'))

    op.drop_table('civility_appeals')
    with op.batch_alter_table('civility_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civility_reports_status'))
        batch_op.drop_index(batch_op.f('ix_civility_reports_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_civility_reports_issue_id'))
        batch_op.drop_index(batch_op.f('ix_civility_reports_department_id'))
        batch_op.drop_index('ix_civility_reports_lists')

    op.drop_table('civility_reports')
    with op.batch_alter_table('civility_issues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civility_issues_published_at'))

    op.drop_table('civility_issues')
    op.drop_table('report_categories')
    op.drop_table('departments')
