"""Report photos: the redaction boxes the detector proposes (faces, plates) and when it looked

Photos stored before this revision are marked as looked at when they were already confirmed
by a moderator (their boxes stand); the others wait for the jobs worker's `faces` task.

Revision ID: 0020_photo_proposals
Revises: 0019_sealed_ids
Create Date: 2026-12-07 12:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_photo_proposals'
down_revision = '0019_sealed_ids'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('civility_photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed', sa.Text(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('detected_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('detector', sa.String(length=20), server_default='',
                                      nullable=False))
    op.execute("UPDATE civility_photos SET detected_at = redacted_at, detector = 'before' "
               "WHERE redacted_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('civility_photos', schema=None) as batch_op:
        batch_op.drop_column('detector')
        batch_op.drop_column('detected_at')
        batch_op.drop_column('proposed')
