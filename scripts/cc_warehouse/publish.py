"""Publish the marts for BI tools and reports: a read-only DuckDB copy and Parquet files.

A DuckDB file is locked by every connection, even a read-only one, so nothing outside the
pipeline may hold the live warehouse open. Readers use the published copies instead:

    <state>/published/childrens_centres.duckdb     one file, every mart, read-only
    <state>/published/parquet/<mart>.parquet       one file per mart

Both are replaced atomically (a rename), so a reader holding the old copy open keeps reading
a complete old version, and never blocks or breaks the next build.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
import uuid
from pathlib import Path

import duckdb

from . import config

PUBLISHED_DB = "childrens_centres.duckdb"
MART_PREFIXES = ("fct_", "dim_", "pub_")


class PublishError(Exception):
    pass


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        """select table_name from information_schema.tables
        where table_catalog = 'live' and table_schema = 'main' and table_type = 'BASE TABLE'
        order by table_name"""
    ).fetchall()
    return [name for (name,) in rows if name.startswith(MART_PREFIXES)]


def _swap_symlink(link: Path, target_name: str) -> None:
    """Point `link` at `target_name` atomically (a new link renamed over the old one)."""
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    temporary.symlink_to(target_name)
    os.replace(temporary, link)


def publish(settings: config.Settings) -> list[str]:
    out = settings.published_dir
    run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging_db = out / f".{PUBLISHED_DB}.{run}"
        parquet_dir = out / f"parquet-{run}"
        parquet_dir.mkdir()
    except OSError as error:
        raise PublishError(f"cannot write to {out}: {error}") from None
    try:
        # The new copy is written through its own connection, reading the live warehouse
        # attached read-only; a reader of the previous copy is not affected.
        con = duckdb.connect(str(staging_db), config=config.duckdb_config())
        con.execute("attach ? as live (read_only)", [str(settings.warehouse)])
    except duckdb.Error as error:
        staging_db.unlink(missing_ok=True)
        shutil.rmtree(parquet_dir, ignore_errors=True)
        raise PublishError(f"cannot open the warehouse {settings.warehouse}: {error}") from None
    try:
        tables = mart_tables(con)
        if not tables:
            raise PublishError("the warehouse holds no marts yet: run `make transform` first")
        for table in tables:
            con.execute(f"create table main.{table} as select * from live.main.{table}")
            con.execute(
                f"copy main.{table} to '{parquet_dir / (table + '.parquet')}' "
                "(format parquet, compression zstd)"
            )
        con.execute("detach live")
        con.execute("checkpoint")
    except (duckdb.Error, OSError, PublishError) as error:
        con.close()
        shutil.rmtree(parquet_dir, ignore_errors=True)
        staging_db.unlink(missing_ok=True)
        raise PublishError(f"publishing failed, the previous copies are untouched: {error}") from None
    con.close()
    staging_db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(staging_db, out / PUBLISHED_DB)
    _swap_symlink(out / "parquet", parquet_dir.name)
    _remove_old_versions(out, keep=parquet_dir.name)
    return tables


def _remove_old_versions(out: Path, keep: str) -> None:
    # One older Parquet version is kept for readers that resolved the link a moment ago.
    versions = sorted(p for p in out.glob("parquet-*") if p.is_dir() and p.name != keep)
    for old in versions[:-1]:
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    settings = config.settings()
    started = time.perf_counter()
    try:
        tables = publish(settings)
    except PublishError as error:
        print(f"publish failed: {error}", file=sys.stderr)
        return 1
    print(
        f"published {len(tables)} marts to {settings.published_dir} ({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
