"""retries by cause and budgets: task_attempts, budgets; tasks' retry policy, hold and costs

Revision ID: 0011
Revises: 0010

``tasks`` gains the retry policy (``retry`` reruns allowed, ``retry_on`` the causes that rerun;
null: ``runner_failed,timed_out``), ``retry_at`` (a rerun waits until then: the backoff),
``requeues`` (automatic re-queues after an infrastructure cause, at most 2), ``attempt`` (the
number of the current run, 1 first), ``output_base``
(where the current attempt's output starts in the task's stream: a rerun's daemon counts its
offsets from 0 again), ``requested_agent_id`` (the agent the task was created for: its reruns
go back to it), ``max_cost_usd`` and the run's reported ``cost_usd``, ``input_tokens``,
``output_tokens`` (sums over the attempts). ``task_attempts`` keeps one row per ended run
(agent, timing, cause, output range, cost); ``budgets`` the daily limits (``label`` '' for the
hub-wide one). Every new column is nullable or has a server default, so existing rows stay
valid. The downgrade drops the tables, then the columns with ALTER TABLE ... DROP COLUMN as
0005 does (and for its reason).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def task_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column('retry', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('retry_on', sa.JSON(), nullable=True),
        sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('requeues', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('attempt', sa.Integer(), nullable=False, server_default='1'),
        sa.Column('output_base', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('requested_agent_id', sa.String(length=36), nullable=True),
        sa.Column('max_cost_usd', sa.Float(), nullable=True),
        sa.Column('cost_usd', sa.Float(), nullable=True),
        sa.Column('input_tokens', sa.BigInteger(), nullable=True),
        sa.Column('output_tokens', sa.BigInteger(), nullable=True),
    )


def upgrade() -> None:
    for column in task_columns():
        op.add_column('tasks', column)
    op.create_table(
        'task_attempts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
        sa.Column('task_id', sa.String(length=36), sa.ForeignKey('tasks.id', ondelete='CASCADE'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.String(length=36), nullable=True),
        sa.Column('agent_name', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('cause', sa.String(length=40), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('exit_code', sa.Integer(), nullable=True),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('output_start', sa.BigInteger(), nullable=False),
        sa.Column('output_end', sa.BigInteger(), nullable=False),
        sa.Column('cost_usd', sa.Float(), nullable=True),
        sa.Column('input_tokens', sa.BigInteger(), nullable=True),
        sa.Column('output_tokens', sa.BigInteger(), nullable=True),
        sa.UniqueConstraint('task_id', 'number', name='uq_task_attempts_task_id_number'),
    )
    op.create_index('ix_task_attempts_finished_at', 'task_attempts', ['finished_at'])
    op.create_table(
        'budgets',
        sa.Column('id', sa.String(length=36), primary_key=True),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('daily_usd', sa.Float(), nullable=False),
        sa.Column('notified_on', sa.String(length=10), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('label', name='uq_budgets_label'),
    )


def downgrade() -> None:
    op.drop_table('budgets')
    op.drop_index('ix_task_attempts_finished_at', table_name='task_attempts')
    op.drop_table('task_attempts')
    if op.get_bind().dialect.name == 'sqlite' and sqlite3.sqlite_version_info < (3, 35, 0):
        return
    for column in reversed(task_columns()):
        op.execute(f'ALTER TABLE tasks DROP COLUMN {column.name}')
