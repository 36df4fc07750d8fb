"""interventions: kind, tool_name, tool_input (tool-call approvals)

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('interventions', sa.Column('kind', sa.String(length=20), nullable=False, server_default='question'))
    op.add_column('interventions', sa.Column('tool_name', sa.String(length=500), nullable=True))
    op.add_column('interventions', sa.Column('tool_input', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('interventions') as batch:
        batch.drop_column('tool_input')
        batch.drop_column('tool_name')
        batch.drop_column('kind')
