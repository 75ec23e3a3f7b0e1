"""append-only audit trail with a hash chain; coding checks append-only

Revision ID: a7c3e9d2b410
Revises: 649b1c552a1a
Create Date: 2026-11-27 15:00:00

"""
import sqlalchemy as sa
from alembic import op

from registry.audit import chain, guard

# revision identifiers, used by Alembic.
revision = 'a7c3e9d2b410'
down_revision = '649b1c552a1a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    # chain the events recorded so far, oldest first
    conn = op.get_bind()
    events = sa.table(
        'audit_event', sa.column('id', sa.Integer), sa.column('occurred_at', registry_datetime()), sa.column('actor_id', sa.Integer),
        sa.column('actor', sa.String), sa.column('action', sa.String), sa.column('entity_type', sa.String), sa.column('entity_key', sa.String),
        sa.column('before', sa.JSON), sa.column('after', sa.JSON), sa.column('reason', sa.Text), sa.column('prev_hash', sa.String), sa.column('hash', sa.String),
    )
    prev = chain.GENESIS
    for row in conn.execute(sa.select(events).order_by(events.c.id)).all():
        value = chain.digest(prev, chain.of(row))
        conn.execute(events.update().where(events.c.id == row.id).values(prev_hash=prev, hash=value))
        prev = value

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_event_hash'), ['hash'])

    for statement in guard.install_statements(conn.dialect.name):
        op.execute(statement)


def downgrade():
    conn = op.get_bind()
    for statement in guard.remove_statements(conn.dialect.name):
        op.execute(statement)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_event_hash'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')


def registry_datetime():
    from registry.db import UTCDateTime

    return UTCDateTime(timezone=True)
