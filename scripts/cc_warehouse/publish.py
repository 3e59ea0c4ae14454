"""Publish the marts for BI tools and reports: a read-only DuckDB copy and Parquet files.

A DuckDB file is locked by every connection, even a read-only one, so nothing outside the
pipeline may hold the live warehouse open. Readers use the published copies instead:

    <state>/published/childrens_centres.duckdb     one file, every mart, read-only
    <state>/published/parquet/<mart>/*.parquet     a folder per mart: `<mart>.parquet`, or, for
                                                   a table of figures by period, one file per
                                                   year in which its periods start
                                                   (`<year>.parquet`)

`published` is a link to one complete version under `<state>/published.versions/`. A new
version is written beside the old one and the link is switched in one rename, so a reader
sees the old version or the new one, never a mix, and a reader holding the old copy open
keeps reading it and never blocks or breaks the next build. The previous version is kept
until the one after.

After a quarterly build, the new version starts from a copy of the previous one, when that
was published from the warehouse the build started from (`source.json` in each version names
the build by its fingerprint), and each mart the build updated in part is updated the same way.
The build recorded the condition of the rows it replaced (schema mart_changes, macro
record_mart_change); the rows matching it are deleted from the copy, and the warehouse's rows
matching it, the new ones, inserted. Every other mart is copied whole, and so is a mart whose
copy would then not number the warehouse's rows. Either way the version holds what the
warehouse holds. The Parquet files of a mart updated in part are written again for the years
its replaced and new rows fall in only; the other years' files are the previous version's
(hard links: a Parquet file cannot be changed in part).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from . import atomic, config

PUBLISHED_DB = "childrens_centres.duckdb"
MART_PREFIXES = ("fct_", "dim_", "pub_")
# Marts of figures by period (a fact with a period_start) are split into Parquet files by the
# year their periods start in, so that a quarterly build rewrites the files of its years only.
YEARLY_PREFIXES = ("fct_", "pub_")
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


def mart_changes(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, str]:
    """What the build replaced in each mart it updated in part: {mart: condition of the rows
    deleted}, which its new rows match too. Empty after a full build."""
    try:
        rows = con.execute(
            f"select model_name, replaced_where from {catalog}.mart_changes.replaced"
        ).fetchall()
    except duckdb.CatalogException:
        return {}  # a warehouse built before the record existed
    return dict(rows)


def source_fingerprint(con: duckdb.DuckDBPyConnection, catalog: str) -> str | None:
    """The fingerprint the build of the warehouse stored (transform.py), if it stored one."""
    try:
        row = con.execute(f"select fingerprint from {catalog}.build_meta.last_build").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def version_source(version: Path) -> str | None:
    """The fingerprint of the build a published version was made from, if known."""
    try:
        return json.loads((version / SOURCE_FILE).read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def update_in_place(con: duckdb.DuckDBPyConnection, catalog: str, table: str, replaced_where: str) -> bool:
    """Replace in the published copy of `table` (a copy of the previous version's) the rows the
    build replaced by the warehouse's rows matching the same condition; False, with the copy
    untouched, if its rows then do not number the warehouse's: a previous version that was not
    the build's starting point, or new rows that do not all match the condition (the copy's
    rows number the warehouse's exactly when it holds them)."""
    con.execute("begin")
    try:
        con.execute(f"delete from published.main.{table} where {replaced_where}")
        con.execute(
            f"insert into published.main.{table} by name "
            f"select * from {catalog}.main.{table} where {replaced_where}"
        )
        counts = con.execute(
            f"select (select count(*) from published.main.{table}), "
            f"(select count(*) from {catalog}.main.{table})"
        ).fetchone()
    except duckdb.Error:
        counts = None
    if counts is None or counts[0] != counts[1]:
        con.execute("rollback")
        return False
    con.execute("commit")
    return True


def is_yearly(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> bool:
    """Whether the mart's Parquet files are split by year (YEARLY_PREFIXES)."""
    (found,) = con.execute(
        "select count(*) from information_schema.columns where table_catalog = ? "
        "and table_schema = 'main' and table_name = ? and column_name = 'period_start'",
        [catalog, table],
    ).fetchone()
    return table.startswith(YEARLY_PREFIXES) and found == 1


def changed_years(con: duckdb.DuckDBPyConnection, catalog: str, table: str, replaced_where: str) -> set:
    """The years (of period_start) of the published rows the build replaced in `table` and of
    the warehouse's rows that replace them, read before the published copy is updated."""
    rows = con.execute(
        f"select distinct year(period_start) from published.main.{table} where {replaced_where} "
        f"union select distinct year(period_start) from {catalog}.main.{table} where {replaced_where}"
    ).fetchall()
    return {year for (year,) in rows}


def year_file(year: int | None) -> str:
    return f"{year}.parquet" if year is not None else "no_period_start.parquet"


def write_parquet(
    con: duckdb.DuckDBPyConnection,
    table: str,
    folder: Path,
    yearly: bool,
    reused: Path | None = None,
    years: set | None = None,
) -> None:
    """Write the published mart `table` to Parquet files in `folder`: `<table>.parquet`, or, if
    `yearly`, `<year>.parquet` for each year its periods start in. With `years` (the years an
    update in place changed), only those years' files are written; the others are linked from
    `reused`, the previous version's folder, whose rows of those years the update left alone."""
    folder.mkdir()
    options = "(format parquet, compression zstd)"
    if not yearly:
        target = config.sql_string(folder / (table + ".parquet"))
        con.execute(f"copy published.main.{table} to {target} {options}")
        return
    if years is None:
        years = {
            year
            for (year,) in con.execute(
                f"select distinct year(period_start) from published.main.{table}"
            ).fetchall()
        }
    else:
        for old in reused.iterdir():
            if old.name not in {year_file(year) for year in years}:
                os.link(old, folder / old.name)
    for year in years:
        where = (
            "period_start is null"
            if year is None
            else f"period_start >= make_date({int(year)}, 1, 1) "
            f"and period_start < make_date({int(year) + 1}, 1, 1)"
        )
        path = folder / year_file(year)
        target = config.sql_string(path)
        (written,) = con.execute(
            f"copy (select * from published.main.{table} where {where}) to {target} {options}"
        ).fetchone()
        if written == 0:
            path.unlink()  # the year's last rows were replaced by none


@dataclass(frozen=True)
class Staged:
    """A published version written and not yet seen by anyone."""

    version: Path
    tables: list[str]
    updated_in_place: list[str]


def stage(settings: config.Settings, source: Path, previous: Path | None = None) -> Staged:
    """Write a new published version from the warehouse file `source`; nobody sees it yet.

    previous: a published version made from the warehouse `source` was built from (a
              quarterly build's starting point), to start from and update in place
    """
    version = settings.published_versions_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    database = version / PUBLISHED_DB
    parquet_dir = version / "parquet"
    try:
        parquet_dir.mkdir(parents=True)
        if previous is not None:
            shutil.copyfile(previous / PUBLISHED_DB, database)
    except OSError as error:
        shutil.rmtree(version, ignore_errors=True)
        raise PublishError(
            f"cannot write to {settings.published_versions_dir}: {error.strerror or error}"
        ) from None
    # The warehouse is attached read-only under its own name, the database its dbt relations
    # (and so the conditions in mart_changes.replaced) name; the new copy is written through
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
        changes = mart_changes(con, catalog) if previous is not None else {}
        for stale in set(mart_tables(con, "published")) - set(tables):
            con.execute(f"drop table published.main.{stale}")
        updated = []
        for number, table in enumerate(tables):
            yearly = is_yearly(con, source.stem, table)
            reused = previous / "parquet" / table if previous is not None else None
            years = None
            if yearly and table in changes and reused.is_dir():
                years = changed_years(con, catalog, table, changes[table])
            if table in changes and update_in_place(con, catalog, table, changes[table]):
                updated.append(table)
            else:
                years = None
                con.execute(
                    f"create or replace table published.main.{table} as select * from {catalog}.main.{table}"
                )
            write_parquet(con, table, parquet_dir / table, yearly, reused, years)
            if number == 0:
                atomic.kill_point("publish:during")
        (version / SOURCE_FILE).write_text(
            json.dumps({"fingerprint": source_fingerprint(con, catalog), "updated_in_place": updated}),
            encoding="utf-8",
        )
        con.execute("checkpoint published")
        con.execute("detach published")
        con.close()
        for path in [database, version / SOURCE_FILE, *parquet_dir.rglob("*"), parquet_dir, version]:
            atomic.fsync_path(path)
    except (duckdb.Error, OSError, PublishError) as error:
        con.close()
        shutil.rmtree(version, ignore_errors=True)
        message = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise PublishError(f"publishing failed, the previous copies are untouched: {message}") from None
    database.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return Staged(version, tables, updated)


def current_version(settings: config.Settings) -> Path | None:
    link = settings.published_dir
    if link.is_symlink():
        return settings.published_versions_dir / Path(os.readlink(link)).name
    return None


def version_of_build(settings: config.Settings, fingerprint: str | None) -> Path | None:
    """The current published version if it was published from the build `fingerprint`."""
    version = current_version(settings)
    if fingerprint is None or version is None or version_source(version) != fingerprint:
        return None
    return version if (version / PUBLISHED_DB).is_file() else None


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
            staged = stage(settings, settings.warehouse)
            atomic.kill_point("publish:after_stage")
            try:
                activate(settings, staged.version)
            except OSError as error:
                raise PublishError(f"cannot switch {settings.published_dir}: {error}") from None
            return staged.tables
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
