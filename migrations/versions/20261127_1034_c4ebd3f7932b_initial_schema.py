"""initial schema

Revision ID: c4ebd3f7932b
Revises: 
Create Date: 2026-11-27 10:34:47.407308

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4ebd3f7932b'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('jurisdiction',
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_jurisdiction')),
    sa.UniqueConstraint('name', name=op.f('uq_jurisdiction_name'))
    )
    op.create_table('profession',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_profession')),
    sa.UniqueConstraint('name', name=op.f('uq_profession_name'))
    )
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('manager', 'clinician', 'biller', 'auditor')", name=op.f('ck_user_account_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_key', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_audit_event_actor_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_entity', ['entity_type', 'entity_key'], unique=False)

    op.create_table('rule_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=2), nullable=False),
    sa.Column('profession_code', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_detail', sa.Text(), nullable=False),
    sa.Column('min_training_hours', sa.Numeric(precision=7, scale=1), nullable=True),
    sa.Column('min_practical_hours', sa.Numeric(precision=7, scale=1), nullable=True),
    sa.Column('supervised_sessions', sa.Integer(), nullable=True),
    sa.Column('years_licensed', sa.Numeric(precision=4, scale=1), nullable=True),
    sa.Column('completion_window_months', sa.Integer(), nullable=True),
    sa.Column('approved_course_bodies', sa.Text(), nullable=False),
    sa.Column('board_registration_required', sa.Boolean(), nullable=True),
    sa.Column('written_consent_required', sa.Boolean(), nullable=True),
    sa.Column('referral_required', sa.Boolean(), nullable=True),
    sa.Column('delegation_allowed', sa.Boolean(), nullable=True),
    sa.Column('authority_type', sa.String(length=32), nullable=False),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=False),
    sa.Column('source_date', sa.String(length=10), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('last_verified_on', sa.Date(), nullable=True),
    sa.Column('confidence', sa.String(length=8), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('change_reason', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("authority_type IN ('statute', 'regulation', 'board_policy', 'declaratory_ruling', 'attorney_general_opinion', 'court_ruling', 'unknown')", name=op.f('ck_rule_version_authority_type')),
    sa.CheckConstraint("confidence IN ('high', 'medium', 'low', 'unknown')", name=op.f('ck_rule_version_confidence')),
    sa.CheckConstraint("status IN ('permitted', 'prohibited', 'not_addressed', 'unclear', 'unknown')", name=op.f('ck_rule_version_status')),
    sa.CheckConstraint('completion_window_months IS NULL OR completion_window_months > 0', name=op.f('ck_rule_version_completion_window')),
    sa.CheckConstraint('effective_to IS NULL OR effective_from IS NULL OR effective_to > effective_from', name=op.f('ck_rule_version_effective_range')),
    sa.CheckConstraint('min_practical_hours IS NULL OR min_practical_hours >= 0', name=op.f('ck_rule_version_practical_hours')),
    sa.CheckConstraint('min_training_hours IS NULL OR min_training_hours >= 0', name=op.f('ck_rule_version_training_hours')),
    sa.CheckConstraint('supervised_sessions IS NULL OR supervised_sessions >= 0', name=op.f('ck_rule_version_supervised_sessions')),
    sa.CheckConstraint('years_licensed IS NULL OR years_licensed >= 0', name=op.f('ck_rule_version_years_licensed')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdiction.code'], name=op.f('fk_rule_version_jurisdiction_code_jurisdiction')),
    sa.ForeignKeyConstraint(['profession_code'], ['profession.code'], name=op.f('fk_rule_version_profession_code_profession')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_rule_version_recorded_by_id_user_account')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['rule_version.id'], name=op.f('fk_rule_version_superseded_by_id_rule_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_version'))
    )
    with op.batch_alter_table('rule_version', schema=None) as batch_op:
        batch_op.create_index('ix_rule_version_pair', ['jurisdiction_code', 'profession_code', 'effective_from'], unique=False)
        batch_op.create_index('uq_rule_version_current', ['jurisdiction_code', 'profession_code'], unique=True, sqlite_where=sa.text('effective_to IS NULL AND superseded_at IS NULL'), postgresql_where=sa.text('effective_to IS NULL AND superseded_at IS NULL'))




def downgrade():

    with op.batch_alter_table('rule_version', schema=None) as batch_op:
        batch_op.drop_index('uq_rule_version_current', sqlite_where=sa.text('effective_to IS NULL AND superseded_at IS NULL'), postgresql_where=sa.text('effective_to IS NULL AND superseded_at IS NULL'))
        batch_op.drop_index('ix_rule_version_pair')

    op.drop_table('rule_version')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_entity')

    op.drop_table('audit_event')
    op.drop_table('user_account')
    op.drop_table('profession')
    op.drop_table('jurisdiction')

