"""coding checks and billable lines

Revision ID: c2c01cef0428
Revises: ebb4f5de5fbd
Create Date: 2026-11-27 14:08:04.361643

"""
import sqlalchemy as sa
from alembic import op

import registry.db

# revision identifiers, used by Alembic.
revision = 'c2c01cef0428'
down_revision = 'ebb4f5de5fbd'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('coding_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checked_at', registry.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('batch_key', sa.String(length=36), nullable=True),
    sa.Column('batch_position', sa.Integer(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=2), nullable=False),
    sa.Column('date_of_service', sa.Date(), nullable=False),
    sa.Column('payer_type', sa.String(length=16), nullable=False),
    sa.Column('payer_name', sa.String(length=200), nullable=False),
    sa.Column('profession_code', sa.String(length=8), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('computed_code', sa.String(length=5), nullable=True),
    sa.Column('distinct_muscles', sa.Integer(), nullable=False),
    sa.Column('eligibility_outcome', sa.String(length=16), nullable=True),
    sa.Column('rule_version_id', sa.Integer(), nullable=True),
    sa.Column('rule_status', sa.String(length=16), nullable=True),
    sa.Column('rule_citation', sa.Text(), nullable=False),
    sa.Column('rule_source_url', sa.Text(), nullable=False),
    sa.Column('rule_effective_from', sa.Date(), nullable=True),
    sa.Column('rule_effective_to', sa.Date(), nullable=True),
    sa.Column('visit', sa.JSON(), nullable=False),
    sa.Column('edits', sa.JSON(), nullable=False),
    sa.Column('eligibility_reasons', sa.JSON(), nullable=False),
    sa.CheckConstraint("channel IN ('page', 'api', 'api_batch', 'csv')", name=op.f('ck_coding_check_channel')),
    sa.CheckConstraint("outcome IN ('allow', 'allow_with_warnings', 'block')", name=op.f('ck_coding_check_outcome')),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_coding_check_actor_id_user_account')),
    sa.ForeignKeyConstraint(['rule_version_id'], ['rule_version.id'], name=op.f('fk_coding_check_rule_version_id_rule_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coding_check'))
    )
    with op.batch_alter_table('coding_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coding_check_batch_key'), ['batch_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_coding_check_checked_at'), ['checked_at'], unique=False)
        batch_op.create_index('ix_coding_check_npi_date', ['npi', 'date_of_service'], unique=False)
        batch_op.create_index('ix_coding_check_outcome_checked_at', ['outcome', 'checked_at'], unique=False)

    op.create_table('billable_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=2), nullable=False),
    sa.Column('date_of_service', sa.Date(), nullable=False),
    sa.Column('payer_type', sa.String(length=16), nullable=False),
    sa.Column('payer_name', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=5), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('modifiers', sa.String(length=64), nullable=False),
    sa.Column('diagnoses', sa.Text(), nullable=False),
    sa.Column('released_at', registry.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('released_by', sa.String(length=254), nullable=False),
    sa.Column('acknowledgement', sa.Text(), nullable=False),
    sa.Column('exported_at', registry.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['check_id'], ['coding_check.id'], name=op.f('fk_billable_line_check_id_coding_check')),
    sa.ForeignKeyConstraint(['released_by_id'], ['user_account.id'], name=op.f('fk_billable_line_released_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billable_line')),
    sa.UniqueConstraint('check_id', 'line_number', name='uq_billable_line_check_line')
    )
    with op.batch_alter_table('billable_line', schema=None) as batch_op:
        batch_op.create_index('ix_billable_line_exported_at', ['exported_at'], unique=False)




def downgrade():
    
    with op.batch_alter_table('billable_line', schema=None) as batch_op:
        batch_op.drop_index('ix_billable_line_exported_at')

    op.drop_table('billable_line')
    with op.batch_alter_table('coding_check', schema=None) as batch_op:
        batch_op.drop_index('ix_coding_check_outcome_checked_at')
        batch_op.drop_index('ix_coding_check_npi_date')
        batch_op.drop_index(batch_op.f('ix_coding_check_checked_at'))
        batch_op.drop_index(batch_op.f('ix_coding_check_batch_key'))

    op.drop_table('coding_check')

