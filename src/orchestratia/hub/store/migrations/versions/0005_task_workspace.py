"""tasks: workspace_request and workspace (JSON); task_diffs (a task's files and diff)

Revision ID: 0005
Revises: 0004

Both new task columns are nullable (old tasks have neither); the diff lives in its own table so
that listing tasks never reads it. The downgrade drops the columns with ALTER TABLE ... DROP
COLUMN (SQLite >= 3.35), not Alembic's batch mode: copying and dropping the tasks table would
fire the ON DELETE CASCADE of output_chunks and interventions while foreign keys are on. On an
older SQLite the two columns stay (nullable, unused by 0004's code).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tasks', sa.Column('workspace_request', sa.JSON(), nullable=True))
    op.add_column('tasks', sa.Column('workspace', sa.JSON(), nullable=True))
    op.create_table(
        'task_diffs',
        sa.Column('task_id', sa.String(length=36), sa.ForeignKey('tasks.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('files', sa.JSON(), nullable=False),
        sa.Column('diff', sa.Text(), nullable=False),
        sa.Column('diff_truncated', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('task_diffs')
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    op.execute('ALTER TABLE tasks DROP COLUMN workspace')
    op.execute('ALTER TABLE tasks DROP COLUMN workspace_request')
