"""issuance pipeline steps and signing identities

issuance_steps: one row per certificate and issuance step (status, times, attempts, error).
signing_identities: a department's SM2 signing key (encrypted), CA certificate and seal.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:30:29.645488
"""
from alembic import op
import sqlalchemy as sa
import certledger.db.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signing_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('key_enc', sa.Text(), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('certificate_serial', sa.String(length=64), nullable=False),
    sa.Column('not_after', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seal_der', sa.LargeBinary(), nullable=False),
    sa.Column('seal_picture', sa.LargeBinary(), nullable=False),
    sa.Column('seal_valid_end', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_signing_identities_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_identities')),
    sa.UniqueConstraint('department_id', name=op.f('uq_signing_identities_department_id'))
    )
    op.create_table('issuance_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'done', 'failed', 'skipped', name='issuance_step_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('started_at', certledger.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', certledger.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_issuance_steps_certificate_id_certificates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuance_steps')),
    sa.UniqueConstraint('certificate_id', 'step', name=op.f('uq_issuance_steps_certificate_id_step'))
    )
    with op.batch_alter_table('issuance_steps', schema=None) as batch_op:
        batch_op.create_index('ix_issuance_steps_status', ['status'], unique=False)

def downgrade() -> None:
    with op.batch_alter_table('issuance_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_issuance_steps_status')

    op.drop_table('issuance_steps')
    op.drop_table('signing_identities')
