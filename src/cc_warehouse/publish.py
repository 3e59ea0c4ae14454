"""Publish the marts for BI tools and reports: a read-only DuckDB copy and Parquet files.

A DuckDB file is locked by every connection, even a read-only one, so nothing outside the
pipeline may hold the live warehouse open. Readers use the published copies instead:

    <state>/published/childrens_centres.duckdb     one file, every mart, read-only
    <state>/published/parquet/<mart>/<mart>.parquet  a folder per mart

`published` is a link to one complete version under `<state>/published.versions/`. A new
version is written beside the old one, every mart copied whole, and the link is switched in
one rename, so a reader sees the old version or the new one, never a mix, and a reader
holding the old copy open keeps reading it and never blocks or breaks the next build. The
previous version is kept until the one after.
"""

from __future__ import annotations

import argparse
import json
import shutil
import stat
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cc_warehouse import config
from cc_warehouse.state import atomic, files
from cc_warehouse.state.activation import activate

PUBLISHED_DB = "childrens_centres.duckdb"
MART_PREFIXES = ("fct_", "dim_", "pub_")
SOURCE_FILE = "source.json"


class PublishError(Exception):
    pass


def mart_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        """select table_name from information_schema.tables
        where table_catalog = ? and table_schema = 'main' and table_type = 'BASE TABLE'
        order by table_name""",
        [catalog],
    ).fetchall()
    return [name for (name,) in rows if name.startswith(MART_PREFIXES)]


def source_fingerprint(con: duckdb.DuckDBPyConnection, catalog: str) -> str | None:
    """The fingerprint the build of the warehouse stored (transform.py), if it stored one."""
    try:
        row = con.execute(f"select fingerprint from {catalog}.build_meta.last_build").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def write_parquet(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
    """Write the published mart `table` to `folder/<table>.parquet`."""
    folder.mkdir()
    target = config.sql_string(folder / (table + ".parquet"))
    con.execute(f"copy published.main.{table} to {target} (format parquet, compression zstd)")


@dataclass(frozen=True)
class Staged:
    """A published version written and not yet seen by anyone."""

    version: Path
    tables: list[str]


def stage(settings: config.Settings, source: Path) -> Staged:
    """Write a new published version from the warehouse file `source`; nobody sees it yet."""
    version = settings.published_versions_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    database = version / PUBLISHED_DB
    parquet_dir = version / "parquet"
    try:
        parquet_dir.mkdir(parents=True)
    except OSError as error:
        shutil.rmtree(version, ignore_errors=True)
        raise PublishError(
            f"cannot write to {settings.published_versions_dir}: {error.strerror or error}"
        ) from None
    # The warehouse is attached read-only under its own name; the new copy is written through
    # this connection alone, and a reader of the previous copy is not affected.
    catalog = '"' + source.stem.replace('"', '""') + '"'
    try:
        con = duckdb.connect(config=config.duckdb_config())
        con.execute("attach ? as published", [str(database)])
        con.execute(f"attach ? as {catalog} (read_only)", [str(source)])
    except duckdb.Error as error:
        shutil.rmtree(version, ignore_errors=True)
        raise PublishError(f"cannot open the warehouse {source}: {error}") from None
    try:
        tables = mart_tables(con, source.stem)
        if not tables:
            raise PublishError("the warehouse holds no marts yet: run `make transform` first")
        for number, table in enumerate(tables):
            con.execute(f"create table published.main.{table} as select * from {catalog}.main.{table}")
            write_parquet(con, table, parquet_dir / table)
            if number == 0:
                atomic.kill_point("publish:during")
        (version / SOURCE_FILE).write_text(
            json.dumps({"fingerprint": source_fingerprint(con, catalog)}), encoding="utf-8"
        )
        con.execute("checkpoint published")
        con.execute("detach published")
        con.close()
        for path in [database, version / SOURCE_FILE, *parquet_dir.rglob("*"), parquet_dir, version]:
            files.fsync_path(path)
    except (duckdb.Error, OSError, PublishError) as error:
        con.close()
        shutil.rmtree(version, ignore_errors=True)
        message = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise PublishError(f"publishing failed, the previous copies are untouched: {message}") from None
    database.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return Staged(version, tables)


def publish(settings: config.Settings) -> list[str]:
    """Publish the live warehouse's marts (what `make transform` does after a build)."""
    try:
        with atomic.pipeline_lock(settings, "publish"):
            atomic.recover(settings)
            if not settings.warehouse.exists():
                raise PublishError(f"no warehouse at {settings.warehouse}: run `make load transform` first")
            staged = stage(settings, settings.warehouse)
            atomic.kill_point("publish:after_stage")
            try:
                activate(settings, staged.version)
            except OSError as error:
                raise PublishError(f"cannot switch {settings.published_dir}: {error}") from None
            return staged.tables
    except files.StateError as error:
        raise PublishError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        description="Publish the live warehouse's marts again: the DuckDB copy and the Parquet files "
        "(`cc transform` publishes after every build; this is for a published folder that was lost)."
    ).parse_args(argv)
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
