"""tasks.group_name; task_groups (a group's fleet-wide limit); the queue's index

Revision ID: 0009
Revises: 0008

``tasks.group_name`` names the concurrency group a task belongs to (nullable: most tasks have
none); ``task_groups`` holds each group's ``max_active`` (at most that many of its tasks
assigned or running at once across the fleet; a group without a row has no limit).
``ix_tasks_status_priority_created_at`` serves the scheduler's queue order (status, then
priority, then age). The downgrade drops the table and index, and the column with ALTER TABLE
... DROP COLUMN as 0005 does (and for its reason).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tasks', sa.Column('group_name', sa.String(length=100), nullable=True))
    op.create_index('ix_tasks_status_priority_created_at', 'tasks', ['status', 'priority', 'created_at'])
    op.create_table(
        'task_groups',
        sa.Column('name', sa.String(length=100), primary_key=True),
        sa.Column('max_active', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('task_groups')
    op.drop_index('ix_tasks_status_priority_created_at', table_name='tasks')
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    op.execute('ALTER TABLE tasks DROP COLUMN group_name')
