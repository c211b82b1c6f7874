"""pdf signing identities

pdf_signing_identities: a department's ECDSA key (encrypted) and certificate from the PDF CA,
for signing PDF renditions; kept in the database with the SM2 identity instead of files under
DATA/keys/pdf-signing. Identities in such files are not imported: the next PDF makes a new one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 07:53:29.000000
"""
from alembic import op
import sqlalchemy as sa
import certledger.db.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pdf_signing_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('key_enc', sa.Text(), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('not_after', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', certledger.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_pdf_signing_identities_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pdf_signing_identities')),
    sa.UniqueConstraint('department_id', name=op.f('uq_pdf_signing_identities_department_id'))
    )


def downgrade() -> None:
    op.drop_table('pdf_signing_identities')
