"""notices, their revisions and attachments; the search outbox and synonym groups

Revision ID: 0005_notices_search
Revises: 0004_desk
Create Date: 2026-11-23 11:13:27.448389

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_notices_search'
down_revision = '0004_desk'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.String(length=40), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_outbox'))
    )
    op.create_table('search_synonyms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('terms', sa.String(length=300), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_synonyms'))
    )
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('doc_number', sa.String(length=60), nullable=False),
    sa.Column('agency', sa.String(length=80), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('written_on', sa.Date(), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('publish_at', sa.DateTime(), nullable=True),
    sa.Column('validity', sa.String(length=10), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_format', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("body_format IN ('markdown', 'plain')", name=op.f('ck_notices_body_format')),
    sa.CheckConstraint("status IN ('draft', 'review', 'published', 'withdrawn')", name=op.f('ck_notices_status')),
    sa.CheckConstraint("validity IN ('valid', 'expired', 'repealed')", name=op.f('ck_notices_validity')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_notices_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_agency'), ['agency'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_category'), ['category'], unique=False)
        batch_op.create_index('ix_notices_public', ['status', 'pinned', 'published_on'], unique=False)
        batch_op.create_index('ix_notices_live', ['status', 'publish_at'], unique=False)

    op.create_table('notice_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('stored_name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_attachments_notice_id_notices')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_notice_attachments_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_attachments')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_notice_attachments_stored_name'))
    )
    with op.batch_alter_table('notice_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_attachments_notice_id'), ['notice_id'], unique=False)

    op.create_table('notice_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('doc_number', sa.String(length=60), nullable=False),
    sa.Column('agency', sa.String(length=80), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('written_on', sa.Date(), nullable=True),
    sa.Column('validity', sa.String(length=10), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_format', sa.String(length=10), nullable=False),
    sa.Column('edited_by', sa.Integer(), nullable=True),
    sa.Column('edited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['edited_by'], ['users.id'], name=op.f('fk_notice_revisions_edited_by_users')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_revisions_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_revisions'))
    )
    with op.batch_alter_table('notice_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_revisions_notice_id'), ['notice_id'], unique=False)



def downgrade():
    with op.batch_alter_table('notice_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_revisions_notice_id'))

    op.drop_table('notice_revisions')
    with op.batch_alter_table('notice_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_attachments_notice_id'))

    op.drop_table('notice_attachments')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_live')
        batch_op.drop_index('ix_notices_public')
        batch_op.drop_index(batch_op.f('ix_notices_category'))
        batch_op.drop_index(batch_op.f('ix_notices_agency'))

    op.drop_table('notices')
    op.drop_table('search_synonyms')
    op.drop_table('search_outbox')
