"""ledger outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:45:35.161098
"""
from alembic import op
import sqlalchemy as sa
import certledger.db.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('certificate_id', sa.String(length=160), nullable=False),
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('type_code', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('batch_root', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.String(length=80), nullable=False),
    sa.Column('block', sa.Integer(), nullable=False),
    sa.Column('proof', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', certledger.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_outbox'))
    )
    with op.batch_alter_table('ledger_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_outbox_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index('ix_outbox_batch', ['batch_root'], unique=False)
        batch_op.create_index('ix_outbox_state_id', ['state', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ledger_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_id')
        batch_op.drop_index('ix_outbox_batch')
        batch_op.drop_index(batch_op.f('ix_ledger_outbox_certificate_id'))

    op.drop_table('ledger_outbox')
