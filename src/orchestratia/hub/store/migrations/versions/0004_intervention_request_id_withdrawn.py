"""interventions: request_id (help idempotency key, unique per task) and withdrawn_at

Revision ID: 0004
Revises: 0003

The uniqueness is a unique index, not a table constraint: SQLite cannot add a constraint to an
existing table without copying it, while CREATE UNIQUE INDEX works in place on both SQLite and
PostgreSQL and is enforced the same way (an IntegrityError on a duplicate). NULL request ids
(old clients) never collide: both databases treat NULLs as distinct in a unique index.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

INDEX = 'uq_interventions_task_id_request_id'


def upgrade() -> None:
    op.add_column('interventions', sa.Column('request_id', sa.String(length=200), nullable=True))
    op.add_column('interventions', sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(INDEX, 'interventions', ['task_id', 'request_id'], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='interventions')
    # a withdrawn question is no longer answerable: without the status it becomes cancelled
    op.execute("UPDATE interventions SET status = 'cancelled' WHERE status = 'withdrawn'")
    with op.batch_alter_table('interventions') as batch:
        batch.drop_column('withdrawn_at')
        batch.drop_column('request_id')
