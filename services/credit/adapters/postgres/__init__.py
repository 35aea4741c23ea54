"""Credit's repositories over its schema: all of the service's SQL lives in this package, one module
per aggregate plus the read models:

- `entities`: the registry of entities and their names (matching a party, renames, codes taken);
- `penalties`: records (penalties and criminal referrals), their ending and disclosure;
- `listings`: the serious-violation list and what triggered each listing;
- `proceedings`: the steps before a listing takes effect (Order 44), and each case's referral state;
- `applications`: repair and early-removal applications;
- `read_models`: what queries, the public feed, the export and the gauges read.

Every function takes the connection of the caller's transaction. The writes of a consumer batch
are multi-row statements, so a batch costs a constant number of round trips whatever its size.
The pool has no jsonb codec: jsonb is written as JSON text and decoded where it is read.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any, Sequence

import asyncpg


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def _decoded(row: asyncpg.Record | None, *columns: str) -> dict[str, Any] | None:
    """A row as a dict with its jsonb `columns` decoded (the pool has no jsonb codec: the shared
    runtime opens it, and decoding only where a column is read costs nothing elsewhere)."""
    if row is None:
        return None
    out = dict(row)
    for c in columns:
        if isinstance(out.get(c), str):
            out[c] = json.loads(out[c])
    return out


def _json_text(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, (dt.datetime, dt.date)):
            return v.isoformat()
        if isinstance(v, (tuple, set, frozenset)):
            return list(v)
        raise TypeError(f"cannot store {type(v).__name__}")

    return json.dumps(value, default=plain, ensure_ascii=False, separators=(",", ":"))


#: the tables `insert_rows` writes, with their jsonb columns (written as JSON text)
_BULK_TABLES: dict[str, frozenset[str]] = {
    "records": frozenset({"party"}),
    "entities": frozenset({"person_sealed"}),
    "listings": frozenset(),
    "listing_proceedings": frozenset({"steps"}),
    "substitution_alerts": frozenset({"payload"}),
}


async def insert_rows(conn: asyncpg.Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows of `table` in one binary COPY: every row names the same columns (each value of
    the column's Python type; a jsonb column takes any JSON-able value); the columns no row names
    take their defaults. COPY encodes in asyncpg's C codecs, where a multi-row INSERT from one JSON
    document cost a Python JSON encoding of every value and a JSON parse in the server."""
    if not rows:
        return
    if table not in _BULK_TABLES:
        raise ValueError(f"insert_rows: {table}")
    columns = list(rows[0])
    jsonb = _BULK_TABLES[table]
    encoded = [i for i, c in enumerate(columns) if c in jsonb]
    records = []
    for row in rows:
        values = [row[c] for c in columns]
        for i in encoded:
            if values[i] is not None:
                values[i] = _json_text(values[i])
        records.append(values)
    await conn.copy_records_to_table(table, records=records, columns=columns)


async def lock_keys(conn: asyncpg.Connection, keys: Sequence[str]) -> None:
    """Transaction advisory locks on `keys`, taken in key order (two batches cannot deadlock)."""
    if keys:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(k)) FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) s",
                           list(keys))
