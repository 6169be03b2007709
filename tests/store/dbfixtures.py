"""Database fixtures shared by tests/store and tests/flows: a fresh database per test on SQLite
and on a real PostgreSQL (from $XUNQIN_TEST_PG_URL, else started by scripts/ci_postgres.sh)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "XUNQIN_TEST_PG_URL"
# Columns that legitimately differ between two runs reaching the same state.
VOLATILE = {"id", "created_at", "taken_at", "updated_at", "decided_at", "at", "run_id", "matched_run_id", "source_file_id"}
STATE_TABLES = ("source_files", "station_records", "reports", "rejects", "models", "candidates", "decisions")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        out = subprocess.run(["bash", str(REPO / "scripts" / "ci_postgres.sh")], check=True, capture_output=True, text=True, timeout=600)
        url = out.stdout.strip().splitlines()[-1]
        os.environ[PG_ENV] = url
    return url


def _with_db(url: str, name: str) -> str:
    u = sa.engine.make_url(url)
    return u.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """URL of an empty database (schema not yet created)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xunqin.db'}"
        return
    admin = sa.create_engine(_with_db(request.getfixturevalue("pg_admin_url"), "postgres"), isolation_level="AUTOCOMMIT")
    name = f"xq_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = _with_db(request.getfixturevalue("pg_admin_url"), name)
    try:
        yield url
    finally:
        from xunqin.store import db as store_db

        store_db.dispose(url)  # engines are cached per URL: close its pool first
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every state table as sorted rows without volatile columns (ids, times, run ids)."""
    from xunqin.store import db as store_db

    eng = store_db.engine(url)
    meta = sa.MetaData()
    meta.reflect(eng, only=list(STATE_TABLES))
    out: dict[str, list[tuple]] = {}
    with eng.connect() as conn:
        for name in STATE_TABLES:
            table = meta.tables[name]
            cols = [c for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(sa.select(*cols)).all()
            out[name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
    return out


def _plain(value: Any) -> Any:
    import json

    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)
        except ValueError:
            return value
    if isinstance(value, float):
        return round(value, 9)
    return value


def count(url: str, table: str, where: str = "") -> int:
    from xunqin.store import db as store_db

    with store_db.engine(url).connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar_one())
