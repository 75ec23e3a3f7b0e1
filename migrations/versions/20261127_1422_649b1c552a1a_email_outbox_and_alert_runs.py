"""email outbox and alert runs

Revision ID: 649b1c552a1a
Revises: c2c01cef0428
Create Date: 2026-11-27 14:22:16.960400

"""
import sqlalchemy as sa
from alembic import op

import registry.db

# revision identifiers, used by Alembic.
revision = '649b1c552a1a'
down_revision = 'c2c01cef0428'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('alert_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', registry.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', registry.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('running', 'ok', 'failed')", name=op.f('ck_alert_run_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_run'))
    )
    with op.batch_alter_table('alert_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_run_finished_at'), ['finished_at'], unique=False)

    op.create_table('email_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', registry.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', registry.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', registry.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', registry.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.CheckConstraint("kind IN ('credential_expiry', 'digest', 'rule_change')", name=op.f('ck_email_outbox_kind')),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f('ck_email_outbox_status')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_email_outbox_provider_id_provider')),
    sa.ForeignKeyConstraint(['run_id'], ['alert_run.id'], name=op.f('fk_email_outbox_run_id_alert_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_email_outbox_dedupe_key'))
    )
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_outbox_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_outbox_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_email_outbox_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)




def downgrade():

    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_email_outbox_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_email_outbox_provider_id'))
        batch_op.drop_index(batch_op.f('ix_email_outbox_created_at'))

    op.drop_table('email_outbox')
    with op.batch_alter_table('alert_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_run_finished_at'))

    op.drop_table('alert_run')

