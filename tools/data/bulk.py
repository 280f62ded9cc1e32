"""Bulk rows straight to the driver: COPY on PostgreSQL, executemany on SQLite.

At city scale SQLAlchemy's per-parameter processing costs more than the database itself, so code that writes
many of its own well-typed rows (the synthetic-data generators) goes around it. Values must already be
what the column stores: ints, strs, dates, aware datetimes, bools, and dicts/lists for JSON columns.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession


def _sqlite_value(value):
    """What SQLAlchemy's SQLite types would store: ISO dates, naive-UTC datetimes with microseconds, 0/1, JSON."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _postgres_value(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        await driver.copy_records_to_table(
            table.name, columns=columns, records=[tuple(_postgres_value(r[c]) for c in columns) for r in rows]
        )
    else:
        await driver.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [tuple(_sqlite_value(r[c]) for c in columns) for r in rows],
        )
