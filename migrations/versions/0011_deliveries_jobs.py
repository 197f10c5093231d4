"""deliveries (messages sent by SMS and e-mail), job_runs (the worker's lease and record),
the account's e-mail, language, message switch and proved phone, reminders of activities and
overdue follow-ups flagged

Revision ID: 0011_deliveries_jobs
Revises: 0010_default_synonyms
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_deliveries_jobs'
down_revision = '0010_default_synonyms'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch.add_column(sa.Column('locale', sa.String(length=5), nullable=True))
        batch.add_column(sa.Column('optional_messages', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column('phone_verified_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('phone_code_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('phone_code_sent_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('phone_code_tries', sa.Integer(), nullable=False,
                                   server_default='0'))
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('essential', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    with op.batch_alter_table('volunteer_signups') as batch:
        batch.add_column(sa.Column('reminded_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('follow_ups') as batch:
        batch.add_column(sa.Column('overdue_told_at', sa.DateTime(), nullable=True))
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=16), nullable=True),
    sa.Column('provider_id', sa.String(length=120), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('client_addr', sa.String(length=45), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("channel IN ('sms', 'email')", name=op.f('ck_deliveries_channel')),
    sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'refused')",
                       name=op.f('ck_deliveries_status')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'],
                            name=op.f('fk_deliveries_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('message_id', 'channel', name='uq_deliveries_message_channel')
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['status', 'due_at'])
    op.create_index('ix_deliveries_address', 'deliveries', ['channel', 'address', 'created_at'])
    op.create_index('ix_deliveries_client', 'deliveries', ['client_addr', 'created_at'])
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task', sa.String(length=40), nullable=False),
    sa.Column('slot', sa.String(length=20), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('task', 'slot', name='uq_job_runs_task_slot')
    )
    op.create_index('ix_job_runs_task', 'job_runs', ['task', 'started_at'])


def downgrade():
    op.drop_index('ix_job_runs_task', table_name='job_runs')
    op.drop_table('job_runs')
    op.drop_index('ix_deliveries_client', table_name='deliveries')
    op.drop_index('ix_deliveries_address', table_name='deliveries')
    op.drop_index('ix_deliveries_due', table_name='deliveries')
    op.drop_table('deliveries')
    with op.batch_alter_table('follow_ups') as batch:
        batch.drop_column('overdue_told_at')
    with op.batch_alter_table('volunteer_signups') as batch:
        batch.drop_column('reminded_at')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('essential')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('phone_code_tries')
        batch.drop_column('phone_code_sent_at')
        batch.drop_column('phone_code_hash')
        batch.drop_column('phone_verified_at')
        batch.drop_column('optional_messages')
        batch.drop_column('locale')
        batch.drop_column('email')
