"""tasks: session_id, resume, parked_until (replies continue a conversation; usage limits park)

Revision ID: 0007
Revises: 0006

``session_id`` is the CLI's conversation id of the task's run as the agent reported it
(``result.session_id``: Claude Code's ``session_id``, Codex's ``thread_id``); ``resume`` what a
task continues (``{"parent_id", "session_id", "worktree_of", "branch", "kind"}``: a reply resumes
its parent's conversation in its worktree, a parked task its own); ``parked_until`` when a task
parked by a usage limit resumes. All nullable, so existing rows stay valid. The downgrade drops
the columns with ALTER TABLE ... DROP COLUMN as 0005 does (and for its reason).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tasks', sa.Column('session_id', sa.String(length=200), nullable=True))
    op.add_column('tasks', sa.Column('resume', sa.JSON(), nullable=True))
    op.add_column('tasks', sa.Column('parked_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    for column in ('parked_until', 'resume', 'session_id'):
        op.execute(f'ALTER TABLE tasks DROP COLUMN {column}')
