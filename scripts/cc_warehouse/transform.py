"""`make transform`: dbt build on a copy of the warehouse, then commit and publish at once.

    python -m cc_warehouse.transform [--no-freshness] [dbt build options, e.g. --select ...]

1. copies the live warehouse to `<state>/build/<name>.duckdb` (same name, so the views dbt
   writes, which name their database, still resolve after the rename);
2. runs `dbt build` against the copy, prints the one-table summary of test warnings, and
   checks source freshness (a stale feed warns);
3. writes the published version (DuckDB and Parquet) from the copy;
4. commits: the copy replaces the live warehouse and the published link switches to the new
   version (see atomic.py: a kill after the commit began is finished by the next command).

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
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from . import atomic, config, dbt_summary, publish, spark


class TransformError(Exception):
    """The build stopped; the live warehouse and the published copies are unchanged."""


UNCHANGED = "the warehouse and the published copies are unchanged"


def _die_with_parent() -> None:
    """In the dbt child: be killed when the transform dies, so no orphan keeps writing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def target_path() -> Path:
    value = os.environ.get("DBT_TARGET_PATH") or "target"
    path = Path(value)
    return path if path.is_absolute() else config.PROJECT_ROOT / path


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
        shutil.copyfile(live, copy)
        atomic.fsync_path(copy)
    except (OSError, duckdb.Error) as error:
        shutil.rmtree(build, ignore_errors=True)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        size = live.stat().st_size / 1e6
        raise TransformError(
            f"cannot copy the warehouse into {build} for the build ({reason}); the build needs "
            f"room for a second copy ({size:.0f} MB). {UNCHANGED}"
        ) from None
    return copy


def run_dbt(command: list[str], copy: Path) -> int:
    env = {
        **os.environ,
        "CC_WAREHOUSE": str(copy),
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR") or str(config.PROJECT_ROOT),
    }
    try:
        result = subprocess.run(
            [dbt_executable(), *command, "--project-dir", str(config.PROJECT_ROOT)],
            cwd=config.PROJECT_ROOT,
            env=env,
            preexec_fn=_die_with_parent,
        )
    except OSError as error:
        raise TransformError(f"cannot run dbt: {error}. {UNCHANGED}") from None
    return result.returncode


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
        status = run_dbt(["build", *dbt_args], settings.warehouse)
        summarise(settings, settings.warehouse)
        if status != 0:
            raise TransformError(f"dbt build failed (exit code {status}): see the table above")
        if freshness and run_dbt(["source", "freshness", "--quiet"], settings.warehouse) != 0:
            print("source freshness: a feed is older than allowed (see above)", flush=True)
        return []


def transform(settings: config.Settings, dbt_args: list[str], freshness: bool = True) -> list[str]:
    check_writable(settings.reports_dir / "data_quality", "reports")
    if settings.target == "spark":
        return spark.transform(settings, dbt_args, freshness)
    if settings.target != "duckdb":
        return transform_in_place(settings, dbt_args, freshness)
    with atomic.pipeline_lock(settings, "transform"):
        atomic.recover(settings)
        copy = copy_warehouse(settings)
        atomic.kill_point("transform:after_copy")
        (target_path() / "run_results.json").unlink(missing_ok=True)  # summarise this run only
        status = run_dbt(["build", *dbt_args], copy)
        summarise(settings, copy)
        if status != 0:
            how = f"was killed (signal {-status})" if status < 0 else f"failed (exit code {status})"
            raise TransformError(
                f"dbt build {how}: see the table above and logs/dbt.log. {UNCHANGED}; the failed "
                f"build is kept in {copy.parent} for inspection until the next transform"
            )
        if freshness and run_dbt(["source", "freshness", "--quiet"], copy) != 0:
            print("source freshness: a feed is older than allowed (see above)", flush=True)
        atomic.kill_point("transform:after_dbt")
        try:
            checkpoint(copy)
        except duckdb.Error as error:
            raise TransformError(f"cannot finish the build copy {copy}: {error}. {UNCHANGED}") from None
        try:
            version, tables = publish.stage(settings, copy)
        except publish.PublishError as error:
            raise TransformError(f"{error}. {UNCHANGED}") from None
        atomic.kill_point("transform:after_publish")
        try:
            atomic.commit(settings, copy, version)
        except (OSError, publish.PublishError) as error:
            raise TransformError(
                f"the commit stopped ({error}); the next load, transform or publish finishes it"
            ) from None
        return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-freshness", action="store_true", help="skip `dbt source freshness`")
    args, dbt_args = parser.parse_known_args(argv)
    settings = config.settings()
    started = time.perf_counter()
    try:
        tables = transform(settings, dbt_args, freshness=not args.no_freshness)
    except (TransformError, spark.SparkTransformError, atomic.StateError) as error:
        print(f"transform failed: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    if tables:
        where = "" if settings.target == "duckdb" else f" on the {settings.target} target"
        print(f"built{where} and published {len(tables)} marts to {settings.published_dir} ({seconds:.1f} s)")
    else:
        print(f"built on the {settings.target} target ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
