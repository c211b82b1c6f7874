"""digital certificates and seals

digital_certificates (证书): a department's named SM2 keys (SM4-encrypted) and their certificates
from the platform CA. seals (印章): a department's named GB/T 38540 seals, each allowing one of
those certificates; a type's design may pick one (SealElement.seal_id) for its documents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:30:24.000000
"""
from alembic import op
import sqlalchemy as sa
import certledger.db.base


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('digital_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('remark', sa.Text(), nullable=False),
    sa.Column('subject_cn', sa.String(length=128), nullable=False),
    sa.Column('subject_o', sa.String(length=128), nullable=False),
    sa.Column('key_enc', sa.Text(), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('not_before', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('not_after', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_digital_certificates_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_digital_certificates_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_digital_certificates_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digital_certificates')),
    sa.UniqueConstraint('department_id', 'name', name=op.f('uq_digital_certificates_department_id_name'))
    )
    with op.batch_alter_table('digital_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digital_certificates_department_id'), ['department_id'], unique=False)

    op.create_table('seals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('style', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('picture', sa.LargeBinary(), nullable=False),
    sa.Column('width_mm', sa.Integer(), nullable=False),
    sa.Column('height_mm', sa.Integer(), nullable=False),
    sa.Column('es_id', sa.String(length=64), nullable=False),
    sa.Column('seal_der', sa.LargeBinary(), nullable=False),
    sa.Column('valid_from', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['digital_certificates.id'], name=op.f('fk_seals_certificate_id_digital_certificates')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_seals_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_seals_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_seals_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seals')),
    sa.UniqueConstraint('department_id', 'name', name=op.f('uq_seals_department_id_name'))
    )
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seals_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seals_department_id'), ['department_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seals_department_id'))
        batch_op.drop_index(batch_op.f('ix_seals_certificate_id'))

    op.drop_table('seals')
    with op.batch_alter_table('digital_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digital_certificates_department_id'))

    op.drop_table('digital_certificates')
