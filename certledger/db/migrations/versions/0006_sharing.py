"""sharing

client_systems (系统清单): a department's business systems, their IP addresses and the AccountId
issued on approval. usage_applications (用证申请): a system's application to use a catalog,
decided by the catalog's department (or at once for a public catalog). usage_records (用证记录):
one row per call of the sharing interface, holder codes only as blind indexes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:34:13.000000
"""
from alembic import op
import sqlalchemy as sa
import certledger.db.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('client_systems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('ips', sa.JSON(), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'rejected', 'disabled', name='client_system_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('rotate_account', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_client_systems_created_by_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_client_systems_department_id_departments')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_client_systems_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_systems')),
    sa.UniqueConstraint('account_id', name=op.f('uq_client_systems_account_id')),
    sa.UniqueConstraint('department_id', 'name', name=op.f('uq_client_systems_department_id_name'))
    )
    with op.batch_alter_table('client_systems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_systems_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_systems_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('usage_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('client_system_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('interface', sa.String(length=64), nullable=False),
    sa.Column('type_code', sa.String(length=64), nullable=True),
    sa.Column('certificate_identifier', sa.String(length=160), nullable=True),
    sa.Column('holder_code_index', sa.String(length=64), nullable=True),
    sa.Column('result_code', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_system_id'], ['client_systems.id'], name=op.f('fk_usage_records_client_system_id_client_systems')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_records'))
    )
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_records_certificate_identifier'), ['certificate_identifier'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_records_client_system_id'), ['client_system_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_records_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_records_holder_code_index'), ['holder_code_index'], unique=False)
        batch_op.create_index('ix_usage_records_tenant_at', ['tenant_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_records_type_code'), ['type_code'], unique=False)

    op.create_table('usage_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('client_system_id', sa.Integer(), nullable=False),
    sa.Column('catalog_id', sa.Integer(), nullable=False),
    sa.Column('issuer_department_id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'rejected', 'withdrawn', name='usage_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', certledger.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['catalog_id'], ['catalogs.id'], name=op.f('fk_usage_applications_catalog_id_catalogs')),
    sa.ForeignKeyConstraint(['client_system_id'], ['client_systems.id'], name=op.f('fk_usage_applications_client_system_id_client_systems')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_usage_applications_created_by_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_usage_applications_department_id_departments')),
    sa.ForeignKeyConstraint(['issuer_department_id'], ['departments.id'], name=op.f('fk_usage_applications_issuer_department_id_departments')),
    sa.ForeignKeyConstraint(['matter_id'], ['matters.id'], name=op.f('fk_usage_applications_matter_id_matters')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_applications_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_applications'))
    )
    with op.batch_alter_table('usage_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_applications_catalog_id'), ['catalog_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_applications_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_applications_issuer_department_id'), ['issuer_department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_applications_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_usage_system_status', ['client_system_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('usage_applications', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_system_status')
        batch_op.drop_index(batch_op.f('ix_usage_applications_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_usage_applications_issuer_department_id'))
        batch_op.drop_index(batch_op.f('ix_usage_applications_department_id'))
        batch_op.drop_index(batch_op.f('ix_usage_applications_catalog_id'))

    op.drop_table('usage_applications')
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_records_type_code'))
        batch_op.drop_index('ix_usage_records_tenant_at')
        batch_op.drop_index(batch_op.f('ix_usage_records_holder_code_index'))
        batch_op.drop_index(batch_op.f('ix_usage_records_department_id'))
        batch_op.drop_index(batch_op.f('ix_usage_records_client_system_id'))
        batch_op.drop_index(batch_op.f('ix_usage_records_certificate_identifier'))

    op.drop_table('usage_records')
    with op.batch_alter_table('client_systems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_systems_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_client_systems_department_id'))

    op.drop_table('client_systems')
