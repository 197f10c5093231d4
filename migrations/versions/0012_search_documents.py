"""search_documents: the PostgreSQL full-text backend's table (tsvector + GIN index; created on
SQLite too, where it stays empty and its vectors are plain text)

Revision ID: 0012_search_documents
Revises: 0011_deliveries_jobs
Create Date: 2026-12-01 19:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0012_search_documents'
down_revision = '0011_deliveries_jobs'
branch_labels = None
depends_on = None

TSVECTOR = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")


def upgrade():
    op.create_table('search_documents',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('tsv', TSVECTOR, nullable=False),
    sa.Column('title_tsv', TSVECTOR, nullable=False),
    sa.Column('category', sa.String(length=80), nullable=False),
    sa.Column('agency', sa.String(length=120), nullable=False),
    sa.Column('validity', sa.String(length=20), nullable=False),
    sa.Column('year', sa.String(length=8), nullable=False),
    sa.Column('published', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('dictionary', sa.String(length=16), nullable=False),
    sa.Column('indexed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_search_documents'))
    )
    op.create_index('ix_search_documents_tsv', 'search_documents', ['tsv'],
                    postgresql_using='gin')
    op.create_index('ix_search_documents_title_tsv', 'search_documents', ['title_tsv'],
                    postgresql_using='gin')
    op.create_index('ix_search_documents_published', 'search_documents', ['published', 'key'])
    op.create_index('ix_search_documents_indexed_at', 'search_documents', ['indexed_at'])


def downgrade():
    op.drop_table('search_documents')
