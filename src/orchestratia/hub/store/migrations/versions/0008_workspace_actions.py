"""workspace actions (push / pull request / discard), tasks.pr_url and workspace_action,
agents.features and workspace_disk

Revision ID: 0008
Revises: 0007

``workspace_actions`` holds each push or discard an admin asked for, pending until the task's
agent reports the outcome (indexed by agent and status: daemons fetch their pending ones).
``tasks.workspace_action`` is the latest one as the task shows it (so listing tasks reads no
other table) and ``tasks.pr_url`` the pull request opened. ``agents.features`` is what the
daemon said it can do (capabilities report); ``agents.workspace_disk`` the disk its worktrees
use (heartbeat). All new columns are nullable. The downgrade drops the table and the columns
with ALTER TABLE ... DROP COLUMN as 0005 does (and for its reason).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'workspace_actions',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('agent_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('params', sa.JSON(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('pr_url', sa.String(length=2000), nullable=True),
        sa.Column('requested_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name='fk_workspace_actions_task_id_tasks',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_workspace_actions'),
    )
    op.create_index('ix_workspace_actions_agent_id_status', 'workspace_actions', ['agent_id', 'status'])
    op.create_index('ix_workspace_actions_task_id', 'workspace_actions', ['task_id'])
    op.add_column('tasks', sa.Column('pr_url', sa.String(length=2000), nullable=True))
    op.add_column('tasks', sa.Column('workspace_action', sa.JSON(), nullable=True))
    op.add_column('agents', sa.Column('features', sa.JSON(), nullable=True))
    op.add_column('agents', sa.Column('workspace_disk', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_index('ix_workspace_actions_task_id', table_name='workspace_actions')
    op.drop_index('ix_workspace_actions_agent_id_status', table_name='workspace_actions')
    op.drop_table('workspace_actions')
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    for table, column in (('agents', 'workspace_disk'), ('agents', 'features'), ('tasks', 'workspace_action'),
                          ('tasks', 'pr_url')):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
