"""`make transform`: dbt build on a copy of the warehouse, then commit and publish at once.

    cc transform [--no-freshness] [dbt build options, e.g. --select ...]

1. copies the live warehouse to `<state>/build/<name>.duckdb` (same name, so the views dbt
   writes, which name their database, still resolve after the rename);
2. runs `dbt build` against the copy and then, in the same dbt process (dbt_steps.py),
   `dbt source freshness` (a stale feed warns); prints the one-table summary of test warnings;
3. writes the published version (DuckDB and Parquet) from the copy (publish.py);
4. commits: the copy replaces the live warehouse and the published link switches to the new
   version (see atomic.py: a kill after the commit began is finished by the next command).

A build after a successful one made from the same project, settings and dbt options, with
only feed extracts loaded since, is an incremental build (unit tests left out): dbt's
incremental models recompute only the records loaded since and the periods they can touch,
which this works out once from the load log and passes as the vars `loaded_since` and
`recompute_from` (docs/incremental.md). Anything else, and `--force`, is a full build
(`--full-refresh`).

When nothing changed since the last successful build (the fingerprint of the raw zone's
load log, the dbt project's files, the target, the dbt options and the settings the project
reads, stored in the warehouse by that build, is the same), it says so and stops: the warehouse
and its published copies already hold what a build would make. `--force` builds anyway.

If anything fails or the process is killed before the commit, the live warehouse and the
published copies are exactly as they were; a failed build is left in `<state>/build/` for
inspection until the next transform. The whole run holds the pipeline lock, so a load
cannot slip in between the copy and the rename.

`CC_TARGET=spark` (pyspark in this process) is the Spark transform of spark.py: raw zone
exported to Parquet, `dbt build --target spark`, marts read back and published. Any other
target (a Spark cluster) is built in place by dbt, without publishing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import duckdb

from cc_warehouse import config, publish
from cc_warehouse.build import dbt_steps, dbt_summary, disclosure_audit, spark
from cc_warehouse.state import atomic, files


class TransformError(Exception):
    """The build stopped; the live warehouse and the published copies are unchanged."""


UNCHANGED = "the warehouse and the published copies are unchanged"

# What a build is made from, besides the raw zone: the dbt project's own files.
PROJECT_FOLDERS = ("models", "macros", "seeds", "analyses", "tests")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
# Settings that change what dbt builds or how (the target's connection, dbt's own behaviour).
SETTINGS = ("CC_TARGET", "CC_DUCKDB_THREADS", "CC_DUCKDB_MEMORY_LIMIT", "CC_DUCKDB_PRESERVE_ORDER")
FINGERPRINT_TABLE = "build_meta.last_build"
# Feeds whose extracts an incremental build takes in; any other file loaded (a reference lookup,
# which can move any record to another area) makes the next build a full one.
FEEDS = ("maternity", "health_visiting", "ncmp")
# What an incremental build builds and tests: what the feeds' sources lead to, and the loader's and
# the LSOA boundaries' (every load writes them again: the boundary file is not in the load log),
# and every test of warning severity (their stored failures and the summary are the lists data
# managers work from, written again by every build). The rest (the seeds, the reference lookups
# and what is made of them alone) is made from the project and the reference files in the load
# log, none of which changed since the last build (or it would be a full one): the copy keeps it
# as that build left it, tested.
INCREMENTAL_SELECTION = (
    *(f"source:{feed}+" for feed in FEEDS),
    *("source:loader+", "source:reference.lsoa_boundaries+", "config.severity:warn"),
)
# dbt options after which the tables may not all be of one build (or not of these settings):
# the next build is a full one.
PARTIAL_OPTIONS = (
    *("--select", "-s", "--models", "-m", "--exclude", "--selector"),
    *("--vars", "--full-refresh", "-f"),
)


def target_path() -> Path:
    value = os.environ.get("DBT_TARGET_PATH") or "target"
    path = Path(value)
    return path if path.is_absolute() else config.project_dir() / path


def check_writable(folder: Path, what: str) -> None:
    """Fail before any work when an output folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise TransformError(f"cannot write the {what} folder {folder}: {error.strerror or error}") from None


def checkpoint(database: Path) -> None:
    """Fold a write-ahead log into the file, so that the file alone is the whole database."""
    con = duckdb.connect(str(database))
    try:
        con.execute("checkpoint")
    finally:
        con.close()


def _project_files() -> list[Path]:
    root = config.project_dir()
    files = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for folder in PROJECT_FOLDERS:
        files += [
            path
            for path in (root / folder).rglob("*")
            if path.is_file()
            and "python" not in path.relative_to(root).parts[:2]
            and "__pycache__" not in path.parts
        ]
    return sorted(files)


def fingerprint(settings: config.Settings, dbt_args: list[str]) -> str:
    """What the next build would be made from: equal fingerprints make equal warehouses.

    The raw zone is known by its load log (every file loaded, with its checksum and load
    time: a load always adds rows to it, a reference file replaced included); the rest by
    project_fingerprint.
    """
    digest = hashlib.sha256()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        rows = con.execute("select * from raw.load_log order by all").fetchall()
    finally:
        con.close()
    digest.update(repr(rows).encode())
    digest.update(project_fingerprint(settings, dbt_args).encode())
    return digest.hexdigest()


def project_fingerprint(settings: config.Settings, dbt_args: list[str]) -> str:
    """What a build is made from besides the raw zone: the project by the bytes of its files;
    then the target, dbt's version and options, and every environment variable the project
    reads with env_var() (apart from the warehouse path, which a build points at its copy)."""
    digest = hashlib.sha256()
    env_names = set(SETTINGS)
    root = config.project_dir()
    for path in _project_files():
        data = path.read_bytes()
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
        env_names.update(re.findall(rb"env_var\(\s*['\"]([A-Za-z0-9_]+)['\"]", data))
    env_names = {name.decode() if isinstance(name, bytes) else name for name in env_names}
    env_names -= {"CC_WAREHOUSE"}
    settings_used = {name: os.environ.get(name) for name in sorted(env_names)}
    digest.update(repr((settings.target, settings_used, dbt_args)).encode())
    digest.update(importlib.metadata.version("dbt-core").encode())
    return digest.hexdigest()


def last_build(settings: config.Settings) -> dict[str, object]:
    """What the build that made the live warehouse stored about itself (empty if nothing)."""
    if not settings.warehouse.is_file() or not settings.published_dir.exists():
        return {}
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
    except duckdb.Error:
        return {}
    try:
        cursor = con.execute(f"select * from {FINGERPRINT_TABLE}")
        row = cursor.fetchone()
        names = [column[0] for column in cursor.description]
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return dict(zip(names, row, strict=True)) if row else {}


def last_build_fingerprint(settings: config.Settings) -> str | None:
    """The fingerprint stored by the build that made the live warehouse, if it stored one."""
    value = last_build(settings).get("fingerprint")
    return str(value) if value is not None else None


def incremental_reason(settings: config.Settings, dbt_args: list[str], project: str | None) -> str | None:
    """Why this build may be an incremental one (only what the new records touch), or None.

    It may when the last successful build was made from the same project, settings and dbt
    options (none of which selects part of the project), and every file loaded since is a
    feed extract: a reference file can move any record, so it makes a full build. So does a
    file that build took in and that was withdrawn since (its records could be anywhere).
    """
    if settings.target != "duckdb" or project is None:
        return None
    if any(arg.split("=")[0] in PARTIAL_OPTIONS for arg in dbt_args):
        return None
    last = last_build(settings)
    if last.get("project_fingerprint") != project or last.get("loaded_until") is None:
        return None
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        feeds = con.execute(
            "select distinct feed from raw.load_log where loaded_at > ? order by feed", [last["loaded_until"]]
        ).fetchall()
        ((kept,),) = con.execute(
            "select count(*) from raw.load_log where loaded_at <= ?", [last["loaded_until"]]
        ).fetchall()
    finally:
        con.close()
    if kept != last.get("files_loaded"):
        return None  # a file the last build took in was withdrawn (load --withdraw): its rows anywhere
    new_feeds = [feed for (feed,) in feeds]
    if any(feed not in FEEDS for feed in new_feeds):
        return None
    return "extracts of " + ", ".join(new_feeds) if new_feeds else "no new extract"


def store_fingerprint(copy: Path, value: str, project: str | None = None) -> None:
    """Written into the build's copy, so it is committed with the build and only with it:
    the fingerprint, the project's part of it and the newest load the build took in."""
    con = duckdb.connect(str(copy))
    try:
        con.execute("create schema if not exists build_meta")
        con.execute(
            f"create or replace table {FINGERPRINT_TABLE} as "
            "select ? as fingerprint, ? as project_fingerprint, "
            "(select max(loaded_at) from raw.load_log) as loaded_until, "
            "(select count(*) from raw.load_log) as files_loaded, current_timestamp as built_at",
            [value, project],
        )
        con.execute("checkpoint")
    finally:
        con.close()


def copy_warehouse(settings: config.Settings) -> Path:
    live = settings.warehouse
    if not live.is_file():
        raise TransformError(f"there is no warehouse at {live}: run `make load` first")
    build = settings.build_dir
    shutil.rmtree(build, ignore_errors=True)  # scratch of an earlier build (never a commit: recovered)
    copy = build / live.name
    try:
        build.mkdir(parents=True)
        if live.with_name(live.name + ".wal").exists():
            checkpoint(live)
        shutil.copyfile(live, copy)  # flushed to disk after the build, by then mostly written back
    except (OSError, duckdb.Error) as error:
        shutil.rmtree(build, ignore_errors=True)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        size = live.stat().st_size / 1e6
        raise TransformError(
            f"cannot copy the warehouse into {build} for the build ({reason}); the build needs "
            f"room for a second copy ({size:.0f} MB). {UNCHANGED}"
        ) from None
    return copy


# The earliest date the records loaded since the last build can touch: every version of each
# such record (a correction can move a record out of a period as well as into one), with the
# other records of its delivery (the delivery's fields come from its latest row) and the
# reviews of their babies (which take the mother's age and ethnic group from the birth).
# Every period ending on or after it is recomputed; none ending before it holds such a record.
RECOMPUTE_FROM_SQL = """
with
births as (select birth_id from raw.maternity where loaded_at > $since),
deliveries as (
    select delivery_id from raw.maternity where birth_id in (select birth_id from births)
),
delivery_rows as (
    select delivery_date, baby_pseudo_id from raw.maternity
    where delivery_id in (select delivery_id from deliveries)
),
reviews as (select review_id from raw.health_visiting where loaded_at > $since),
measurements as (select ncmp_id from raw.ncmp where loaded_at > $since)
select least(
    (select min(delivery_date) from delivery_rows),
    (select min(due_date) from raw.health_visiting
        where review_id in (select review_id from reviews)
        or child_pseudo_id in (select baby_pseudo_id from delivery_rows)),
    (select min(least(
        measurement_date,
        coalesce(make_date(try_cast(left(academic_year, 4) as integer), 9, 1), date '1900-01-01')
    )) from raw.ncmp where ncmp_id in (select ncmp_id from measurements))
)
"""


def incremental_vars(settings: config.Settings, loaded_since) -> dict[str, str]:
    """The vars of an incremental build: the newest load the last build took in, and the
    earliest date a record loaded since can touch (RECOMPUTE_FROM_SQL; when no record was
    loaded, a date after every period, so that no period is recomputed)."""
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        (earliest,) = con.execute(RECOMPUTE_FROM_SQL, {"since": loaded_since}).fetchone()
    finally:
        con.close()
    return {
        "loaded_since": str(loaded_since),
        "recompute_from": str(earliest) if earliest is not None else "9999-12-31",
    }


def run_dbt(commands: list[list[str]], copy: Path) -> list[int | None]:
    """Run dbt commands in turn against `copy` in one dbt process (dbt_steps.run)."""
    env = {"CC_WAREHOUSE": str(copy)}
    try:
        return dbt_steps.run(commands, env)
    except OSError as error:
        raise TransformError(f"cannot run dbt: {error}. {UNCHANGED}") from None


def protect(settings: config.Settings, copy: Path) -> None:
    """The disclosure audit of the public marts just built (disclosure_audit.protect): where a
    hidden count could be narrowed down, more counts are hidden and the public marts built
    again, whole (the audit's choices can be in any period). Only the programmes whose counts
    changed since they last passed are audited: after an incremental build, the periods it
    recomputed. TransformError if the audit still fails."""

    def rebuild() -> None:
        with dbt_steps.merged_run_results(target_path()):
            status = run_dbt([[*disclosure_audit.REBUILD, "--full-refresh"]], copy)[0]
        if status != 0:
            raise TransformError(
                f"dbt build of the public marts after the disclosure audit failed (exit code "
                f"{status}): see logs/dbt.log. {UNCHANGED}"
            )

    try:
        result = disclosure_audit.protect(copy, copy, rebuild, settings.audit_rounds)
    except disclosure_audit.AuditError as error:
        raise TransformError(
            f"the disclosure audit failed, so nothing is published: {error}. {UNCHANGED}"
        ) from None
    if result is not None:  # None: a build that selected part of the project without them
        print(result.summary(), flush=True)


def summarise(settings: config.Settings, copy: Path) -> None:
    run_results = target_path() / "run_results.json"
    if not run_results.exists():
        return
    try:
        rows = dbt_summary.summarise(
            run_results, copy, settings.reports_dir / "data_quality" / "dbt_test_warnings.csv"
        )
    except OSError as error:
        raise TransformError(
            f"cannot write the dbt test summary: {error.strerror or error}. {UNCHANGED}"
        ) from None
    print(dbt_summary.render(rows), flush=True)


def transform_in_place(settings: config.Settings, dbt_args: list[str], freshness: bool) -> list[str]:
    """Another target (Spark) keeps its tables elsewhere: dbt builds them where they are."""
    with atomic.pipeline_lock(settings, "transform"):
        codes = run_dbt(dbt_steps.build_then_freshness(dbt_args, freshness), settings.warehouse)
        summarise(settings, settings.warehouse)
        if codes[0] != 0:
            raise TransformError(f"dbt build failed (exit code {codes[0]}): see the table above")
        if dbt_steps.stale(codes):
            print(dbt_steps.STALE, flush=True)
        return []


@contextlib.contextmanager
def timed(stage: str):
    """Print how long a stage of the transform took, once it is done."""
    started = time.perf_counter()
    yield
    print(f"{stage}: {time.perf_counter() - started:.1f} s", flush=True)


class NothingChanged(Exception):
    """Nothing was loaded and no project file changed since the last successful build."""


def transform(
    settings: config.Settings, dbt_args: list[str], freshness: bool = True, force: bool = False
) -> list[str]:
    check_writable(settings.reports_dir / "data_quality", "reports")
    if settings.target == "spark":
        return spark.transform(settings, dbt_args, freshness)
    if settings.target != "duckdb":
        return transform_in_place(settings, dbt_args, freshness)
    with atomic.pipeline_lock(settings, "transform"):
        atomic.recover(settings)
        inputs = project = None
        if settings.warehouse.is_file():
            try:
                project = project_fingerprint(settings, dbt_args)
                inputs = fingerprint(settings, dbt_args)
            except (OSError, duckdb.Error):
                inputs = None  # no load log yet, or unreadable: build, and let dbt say why
        last = last_build_fingerprint(settings) if inputs is not None else None
        if not force and inputs is not None and last == inputs:
            raise NothingChanged
        incremental = None if force or inputs is None else incremental_reason(settings, dbt_args, project)
        build_args = list(dbt_args)
        variables: dict[str, str] = {}
        if incremental:
            variables = incremental_vars(settings, last_build(settings)["loaded_until"])
            # the unit tests' results depend on the project alone, which the last build tested
            build_args += ["--exclude-resource-type", "unit_test", "--select", *INCREMENTAL_SELECTION]
            build_args += ["--vars", json.dumps(variables)]
            print(
                f"incremental build ({incremental}): the records loaded since the last build, "
                f"and the periods ending on or after {variables['recompute_from']}",
                flush=True,
            )
        else:
            build_args += ["--full-refresh"]
            print("full build", flush=True)
        started = time.perf_counter()
        copy = copy_warehouse(settings)
        size = copy.stat().st_size / 1e6
        print(f"copied the warehouse ({size:.0f} MB) in {time.perf_counter() - started:.1f} s", flush=True)
        disclosure_audit.ensure_table(copy)
        atomic.kill_point("transform:after_copy")
        (target_path() / "run_results.json").unlink(missing_ok=True)  # summarise this run only
        # source freshness in the same dbt process as the build (one start-up), after it
        codes = run_dbt(dbt_steps.build_then_freshness(build_args, freshness), copy)
        status = codes[0]
        with timed("summary of test warnings"):
            summarise(settings, copy)
        if status != 0:
            how = f"was killed (signal {-status})" if status < 0 else f"failed (exit code {status})"
            raise TransformError(
                f"dbt build {how}: see the table above and logs/dbt.log. {UNCHANGED}; the failed "
                f"build is kept in {copy.parent} for inspection until the next transform"
            )
        if dbt_steps.stale(codes):
            print(dbt_steps.STALE, flush=True)
        with timed("disclosure audit"):
            protect(settings, copy)
        atomic.kill_point("transform:after_dbt")
        try:
            with timed("checkpoint"):
                checkpoint(copy)
                if inputs is not None:
                    store_fingerprint(copy, inputs, project)
                files.fsync_path(copy)
        except (OSError, duckdb.Error) as error:
            raise TransformError(f"cannot finish the build copy {copy}: {error}. {UNCHANGED}") from None
        try:
            with timed("published copies written"):
                staged = publish.stage(settings, copy)
        except publish.PublishError as error:
            raise TransformError(f"{error}. {UNCHANGED}") from None
        atomic.kill_point("transform:after_publish")
        try:
            atomic.commit(settings, copy, staged.version)
        except (OSError, publish.PublishError) as error:
            raise TransformError(
                f"the commit stopped ({error}); the next load, transform or publish finishes it"
            ) from None
        return staged.tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-freshness", action="store_true", help="skip `dbt source freshness`")
    parser.add_argument(
        "--force", action="store_true", help="build even when nothing changed since the last build"
    )
    args, dbt_args = parser.parse_known_args(argv)
    settings = config.settings()
    started = time.perf_counter()
    try:
        tables = transform(settings, dbt_args, freshness=not args.no_freshness, force=args.force)
    except NothingChanged:
        print(
            "nothing to build: no load and no change to the project since the last successful "
            f"build, so the warehouse and the published copies are up to date "
            f"({time.perf_counter() - started:.1f} s; --force rebuilds)"
        )
        return 0
    except (TransformError, spark.SparkTransformError, files.StateError) as error:
        print(f"transform failed: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    if tables:
        where = "" if settings.target == "duckdb" else f" on the {settings.target} target"
        print(f"built{where} and published {len(tables)} marts to {settings.published_dir} ({seconds:.1f} s)")
    else:
        print(f"built on the {settings.target} target ({seconds:.1f} s)")
    return 0
