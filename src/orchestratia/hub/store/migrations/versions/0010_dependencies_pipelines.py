"""task dependencies and pipelines

Revision ID: 0010
Revises: 0009

``task_dependencies`` holds one row per (task, a task it waits for): ``tasks create --after`` and
a pipeline's ``needs:``. ``pipelines`` is a named graph of tasks created from one file
(docs/scheduling.md, "Dependencies and pipelines"). On ``tasks``: ``pipeline_id`` and
``pipeline_node`` (the member's name in its file), and ``deps_pending``: true while the task waits
for a parent to complete (the scheduler neither assigns nor hands out such a task). Plain indexed
columns, no foreign key on ``tasks`` (SQLite's ALTER TABLE cannot add one; 0006 does the same).
The downgrade drops the tables, and the columns with ALTER TABLE ... DROP COLUMN as 0005 does.
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pipelines',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancel_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_pipelines'),
    )
    op.create_index('ix_pipelines_created_at', 'pipelines', ['created_at'])
    op.create_table(
        'task_dependencies',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('depends_on_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name='fk_task_dependencies_task_id_tasks',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['depends_on_id'], ['tasks.id'], name='fk_task_dependencies_depends_on_id_tasks',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('task_id', 'depends_on_id', name='pk_task_dependencies'),
    )
    op.create_index('ix_task_dependencies_depends_on_id', 'task_dependencies', ['depends_on_id'])
    op.add_column('tasks', sa.Column('pipeline_id', sa.String(length=36), nullable=True))
    op.add_column('tasks', sa.Column('pipeline_node', sa.String(length=200), nullable=True))
    op.add_column('tasks', sa.Column('deps_pending', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_tasks_pipeline_id', 'tasks', ['pipeline_id'])


def downgrade() -> None:
    op.drop_index('ix_tasks_pipeline_id', table_name='tasks')
    op.drop_index('ix_task_dependencies_depends_on_id', table_name='task_dependencies')
    op.drop_table('task_dependencies')
    op.drop_index('ix_pipelines_created_at', table_name='pipelines')
    op.drop_table('pipelines')
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    for column in ('deps_pending', 'pipeline_node', 'pipeline_id'):
        op.execute(f'ALTER TABLE tasks DROP COLUMN {column}')
