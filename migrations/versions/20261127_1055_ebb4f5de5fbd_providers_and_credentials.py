"""providers and credentials

Revision ID: ebb4f5de5fbd
Revises: c4ebd3f7932b
Create Date: 2026-11-27 10:55:29.571685

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'ebb4f5de5fbd'
down_revision = 'c4ebd3f7932b'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('npi', sa.String(length=10), nullable=False),
    sa.Column('profession_code', sa.String(length=8), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('length(npi) = 10', name=op.f('ck_provider_npi_length')),
    sa.ForeignKeyConstraint(['profession_code'], ['profession.code'], name=op.f('fk_provider_profession_code_profession')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_provider_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider')),
    sa.UniqueConstraint('npi', name=op.f('uq_provider_npi')),
    sa.UniqueConstraint('user_id', name=op.f('uq_provider_user_id'))
    )
    op.create_table('board_registration',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=2), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'inactive', 'suspended', 'revoked')", name=op.f('ck_board_registration_status')),
    sa.CheckConstraint('expires_on IS NULL OR issued_on IS NULL OR expires_on >= issued_on', name=op.f('ck_board_registration_dates')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdiction.code'], name=op.f('fk_board_registration_jurisdiction_code_jurisdiction')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_board_registration_provider_id_provider')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_registration')),
    sa.UniqueConstraint('provider_id', 'jurisdiction_code', 'number', name=op.f('uq_board_registration_provider_id_jurisdiction_code_number'))
    )
    with op.batch_alter_table('board_registration', schema=None) as batch_op:
        batch_op.create_index('ix_board_registration_expires_on', ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_board_registration_provider_id'), ['provider_id'], unique=False)

    op.create_table('license',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=2), nullable=False),
    sa.Column('profession_code', sa.String(length=8), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_compact_privilege', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'inactive', 'suspended', 'revoked')", name=op.f('ck_license_status')),
    sa.CheckConstraint('expires_on IS NULL OR issued_on IS NULL OR expires_on >= issued_on', name=op.f('ck_license_dates')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdiction.code'], name=op.f('fk_license_jurisdiction_code_jurisdiction')),
    sa.ForeignKeyConstraint(['profession_code'], ['profession.code'], name=op.f('fk_license_profession_code_profession')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_license_provider_id_provider')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_license')),
    sa.UniqueConstraint('provider_id', 'jurisdiction_code', 'number', name=op.f('uq_license_provider_id_jurisdiction_code_number'))
    )
    with op.batch_alter_table('license', schema=None) as batch_op:
        batch_op.create_index('ix_license_expires_on', ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_license_provider_id'), ['provider_id'], unique=False)

    op.create_table('training_record',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('course_title', sa.String(length=300), nullable=False),
    sa.Column('sponsor', sa.String(length=200), nullable=False),
    sa.Column('approving_body', sa.String(length=200), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('total_hours', sa.Numeric(precision=7, scale=1), nullable=False),
    sa.Column('practical_hours', sa.Numeric(precision=7, scale=1), nullable=False),
    sa.Column('supervised_sessions', sa.Integer(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('practical_hours >= 0 AND practical_hours <= total_hours', name=op.f('ck_training_record_practical_hours')),
    sa.CheckConstraint('supervised_sessions >= 0', name=op.f('ck_training_record_supervised_sessions')),
    sa.CheckConstraint('total_hours >= 0', name=op.f('ck_training_record_total_hours')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_training_record_provider_id_provider')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_record')),
    sa.UniqueConstraint('provider_id', 'course_title', 'completed_on', name=op.f('uq_training_record_provider_id_course_title_completed_on'))
    )
    with op.batch_alter_table('training_record', schema=None) as batch_op:
        batch_op.create_index('ix_training_record_expires_on', ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_record_provider_id'), ['provider_id'], unique=False)




def downgrade():

    with op.batch_alter_table('training_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_record_provider_id'))
        batch_op.drop_index('ix_training_record_expires_on')

    op.drop_table('training_record')
    with op.batch_alter_table('license', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_license_provider_id'))
        batch_op.drop_index('ix_license_expires_on')

    op.drop_table('license')
    with op.batch_alter_table('board_registration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_board_registration_provider_id'))
        batch_op.drop_index('ix_board_registration_expires_on')

    op.drop_table('board_registration')
    op.drop_table('provider')

