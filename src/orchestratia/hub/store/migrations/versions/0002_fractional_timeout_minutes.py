"""tasks.timeout_minutes: a float (fractions of a minute, e.g. 0.05 = 3 s)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:35:00.000000

PostgreSQL: ALTER COLUMN ... TYPE double precision. SQLite cannot change a column's type in
place, and Alembic's batch mode (copy the table, DROP the old one) would fire the ON DELETE
CASCADE of output_chunks and interventions while foreign keys are on: so the column is
re-created instead (ADD, copy, DROP COLUMN, RENAME COLUMN; SQLite >= 3.35). On an older SQLite
the declared type stays INTEGER, which still stores a fraction exactly (type affinity keeps a
non-integral value REAL).
"""
from __future__ import annotations

import sqlite3

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _retype(new_type: sa.types.TypeEngine, old_type: sa.types.TypeEngine, pg_using: str, sqlite_copy: str) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('tasks', 'timeout_minutes', type_=new_type, existing_type=old_type, existing_nullable=True,
                        postgresql_using=pg_using)
        return
    if sqlite3.sqlite_version_info < (3, 35, 0):
        return
    op.add_column('tasks', sa.Column('timeout_minutes_new', new_type, nullable=True))
    op.execute(f'UPDATE tasks SET timeout_minutes_new = {sqlite_copy}')
    op.execute('ALTER TABLE tasks DROP COLUMN timeout_minutes')
    op.execute('ALTER TABLE tasks RENAME COLUMN timeout_minutes_new TO timeout_minutes')


def upgrade() -> None:
    _retype(sa.Float(), sa.Integer(), 'timeout_minutes::double precision', 'CAST(timeout_minutes AS REAL)')


def downgrade() -> None:
    # whole minutes again: a fraction is rounded up (a timeout never gets shorter)
    _retype(sa.Integer(), sa.Float(), 'ceil(timeout_minutes)::integer',
            'CAST(timeout_minutes AS INTEGER) + (timeout_minutes > CAST(timeout_minutes AS INTEGER))')
