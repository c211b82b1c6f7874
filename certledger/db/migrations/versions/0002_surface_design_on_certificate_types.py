"""surface design on certificate types

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:09:35.251398
"""
from alembic import op
import sqlalchemy as sa
import certledger.db.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificate_types', schema=None) as batch_op:
        batch_op.add_column(sa.Column('surface_design', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('certificate_types', schema=None) as batch_op:
        batch_op.drop_column('surface_design')

