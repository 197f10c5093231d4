"""content_stamps: each area's stamp, moved by every transaction that changes its rows; the key
of the public pages each worker keeps (portal/page_cache.py)

Revision ID: 0013_content_stamps
Revises: 0012_search_documents
Create Date: 2026-12-01 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_content_stamps'
down_revision = '0012_search_documents'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('content_stamps',
    sa.Column('area', sa.String(length=20), nullable=False),
    sa.Column('stamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('area', name=op.f('pk_content_stamps'))
    )


def downgrade():
    op.drop_table('content_stamps')
