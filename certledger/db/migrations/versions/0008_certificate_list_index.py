"""certificate list index

The management pages list a department's certificates newest first (证照管理, 录入, 签发审核);
an index on (department_id, created_at) serves that order and its pages without sorting the
whole department; (tenant_id, created_at) does the same for the admin's 证照维护.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:50:00.000000
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_certificates_department_created', 'certificates', ['department_id', 'created_at'])
    op.create_index('ix_certificates_tenant_created', 'certificates', ['tenant_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_certificates_tenant_created', table_name='certificates')
    op.drop_index('ix_certificates_department_created', table_name='certificates')
