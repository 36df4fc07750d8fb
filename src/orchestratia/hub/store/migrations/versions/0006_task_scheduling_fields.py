"""tasks: failure_cause, labels, priority, parent_id (the shared base of replies and scheduling)

Revision ID: 0006
Revises: 0005

``failure_cause`` names why a run failed or ended (``agent_lost``, ``launch_failed``,
``runner_failed``, ``timed_out``, ``max_turns``, ``budget``, ``usage_limit``, ``cancelled``,
``dependency_failed``; docs/scheduling.md); ``labels`` the labels an agent must have to take the
task; ``priority`` orders the queue (1 high, 0 normal, -1 low; then age); ``parent_id`` the task a
reply continues. All nullable or with a server default, so existing rows stay valid. The
downgrade drops the columns with ALTER TABLE ... DROP COLUMN as 0005 does (and for its reason).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tasks', sa.Column('failure_cause', sa.String(length=40), nullable=True))
    op.add_column('tasks', sa.Column('labels', sa.JSON(), nullable=True))
    op.add_column('tasks', sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('tasks', sa.Column('parent_id', sa.String(length=36), nullable=True))
    op.create_index('ix_tasks_parent_id', 'tasks', ['parent_id'])


def downgrade() -> None:
    op.drop_index('ix_tasks_parent_id', table_name='tasks')
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    for column in ('parent_id', 'priority', 'labels', 'failure_cause'):
        op.execute(f'ALTER TABLE tasks DROP COLUMN {column}')
