"""Publish the marts for BI tools and reports: a read-only DuckDB copy and Parquet files.

A DuckDB file is locked by every connection, even a read-only one, so nothing outside the
pipeline may hold the live warehouse open. Readers use the published copies instead:

    <state>/published/childrens_centres.duckdb     one file, every mart, read-only
    <state>/published/parquet/<mart>.parquet       one file per mart

`published` is a link to one complete version under `<state>/published.versions/`. A new
version is written beside the old one and the link is switched in one rename, so a reader
sees the old version or the new one, never a mix, and a reader holding the old copy open
keeps reading it and never blocks or breaks the next build. The previous version is kept
until the one after.
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

from . import atomic, config

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


def stage(settings: config.Settings, source: Path) -> tuple[Path, list[str]]:
    """Write a new published version from the warehouse file `source`; nobody sees it yet."""
    version = settings.published_versions_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    database = version / PUBLISHED_DB
    parquet_dir = version / "parquet"
    try:
        parquet_dir.mkdir(parents=True)
    except OSError as error:
        raise PublishError(
            f"cannot write to {settings.published_versions_dir}: {error.strerror or error}"
        ) from None
    try:
        # The new copy is written through its own connection, reading the warehouse attached
        # read-only; a reader of the previous copy is not affected.
        con = duckdb.connect(str(database), config=config.duckdb_config())
        con.execute("attach ? as live (read_only)", [str(source)])
    except duckdb.Error as error:
        shutil.rmtree(version, ignore_errors=True)
        raise PublishError(f"cannot open the warehouse {source}: {error}") from None
    try:
        tables = mart_tables(con)
        if not tables:
            raise PublishError("the warehouse holds no marts yet: run `make transform` first")
        for number, table in enumerate(tables):
            con.execute(f"create table main.{table} as select * from live.main.{table}")
            con.execute(
                f"copy main.{table} to '{parquet_dir / (table + '.parquet')}' "
                "(format parquet, compression zstd)"
            )
            if number == 0:
                atomic.kill_point("publish:during")
        con.execute("detach live")
        con.execute("checkpoint")
        con.close()
        for path in [database, *parquet_dir.iterdir(), parquet_dir, version]:
            atomic.fsync_path(path)
    except (duckdb.Error, OSError, PublishError) as error:
        con.close()
        shutil.rmtree(version, ignore_errors=True)
        message = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise PublishError(f"publishing failed, the previous copies are untouched: {message}") from None
    database.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return version, tables


def current_version(settings: config.Settings) -> Path | None:
    link = settings.published_dir
    if link.is_symlink():
        return settings.published_versions_dir / Path(os.readlink(link)).name
    return None


def activate(settings: config.Settings, version: Path) -> None:
    """Switch the `published` link to `version` in one rename; keep one older version."""
    link = settings.published_dir
    previous = current_version(settings)
    if previous == version:
        return  # already done (an interrupted commit being finished)
    if not link.is_symlink() and link.is_dir():
        # The layout before versions: the folder itself becomes the previous version.
        previous = settings.published_versions_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-unversioned"
        os.rename(link, previous)
    elif not link.is_symlink() and link.exists():
        raise PublishError(f"{link} is in the way (neither a folder nor a link)")
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    temporary.symlink_to(Path(settings.published_versions_dir.name) / version.name)
    os.replace(temporary, link)
    atomic.fsync_path(link.parent)
    keep = {version.name, previous.name if previous else None}
    for old in settings.published_versions_dir.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def publish(settings: config.Settings) -> list[str]:
    """Publish the live warehouse's marts (what `make transform` does after a build)."""
    try:
        with atomic.pipeline_lock(settings, "publish"):
            atomic.recover(settings)
            if not settings.warehouse.exists():
                raise PublishError(f"no warehouse at {settings.warehouse}: run `make load transform` first")
            version, tables = stage(settings, settings.warehouse)
            atomic.kill_point("publish:after_stage")
            try:
                activate(settings, version)
            except OSError as error:
                raise PublishError(f"cannot switch {settings.published_dir}: {error}") from None
            return tables
    except atomic.StateError as error:
        raise PublishError(str(error)) from None


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
