"""The Spark target: `make transform` with dbt-spark, for a warehouse that outgrows one machine.

    CC_TARGET=spark cc spark transform [--no-freshness] [dbt build options]
    cc spark export-raw

The loader always writes the raw zone into the DuckDB warehouse (one transaction, the load
log, quarantine). `transform` then, holding the pipeline lock:

1. exports every raw.<table> of the warehouse to <state>/raw_parquet/<table>/ (Parquet,
   DuckDB COPY; `export-raw` alone does only this), where dbt's on-run-start hook
   (macros/spark/register_raw_zone.sql) registers each folder as the Spark table raw.<table>;
2. runs `dbt build --target spark` (profiles.yml: pyspark in local mode), then
   `dbt source freshness` in the same dbt process and Spark session (dbt_steps.py);
3. copies the marts Spark built (and the stored failures of the tests that did not pass)
   into <state>/spark/marts.duckdb (in a child process, `copy-marts`) and prints the
   one-table summary of test warnings from it;
4. audits the public marts there (disclosure_audit.protect): where it hides more counts,
   the raw zone is exported again, Spark builds the public marts again and they are copied
   again;
5. publishes those marts exactly as the DuckDB transform does (<state>/published).

Spark keeps its own files beside the warehouse: <state>/spark/warehouse (tables),
<state>/spark/metastore_db (the Derby metastore) and <state>/spark/tmp. A cluster (the
commented Thrift and Databricks outputs in profiles.yml) reads the raw zone from shared
storage instead: copy <state>/raw_parquet there and point CC_RAW_PARQUET at it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb

from cc_warehouse import config, publish
from cc_warehouse.build import dbt_steps, dbt_summary, disclosure_audit
from cc_warehouse.state import activation, atomic, files

RAW_SCHEMA = "raw"
AUDIT_SCHEMA = "audit"


class SparkTransformError(Exception):
    """The Spark build stopped; the published copies are unchanged."""


def raw_parquet_dir(settings: config.Settings) -> Path:
    return settings.state_dir / "raw_parquet"


def spark_dir(settings: config.Settings) -> Path:
    return settings.state_dir / "spark"


def marts_copy(settings: config.Settings) -> Path:
    return spark_dir(settings) / "marts.duckdb"


def spark_schema() -> str:
    return os.environ.get("CC_SPARK_SCHEMA") or "childrens_centres"


def target_path() -> Path:
    # Beside DuckDB's target/, so that switching targets keeps each one's partial parse.
    value = os.environ.get("DBT_TARGET_PATH") or "target/spark"
    path = Path(value)
    return path if path.is_absolute() else config.project_dir() / path


# --- 1. the raw zone as Parquet ---------------------------------------------------------------


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        """select table_name from information_schema.tables
        where table_schema = ? and table_type = 'BASE TABLE' order by table_name""",
        [RAW_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def _select_for_spark(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Every column, with TIMESTAMP as TIMESTAMPTZ.

    A DuckDB TIMESTAMP is written to Parquet as a local (not UTC-adjusted) timestamp, which
    Spark reads as TIMESTAMP_NTZ; as an instant it reads as Spark's TIMESTAMP, the type the
    models and their contracts use.
    """
    columns = con.execute(
        """select column_name, data_type from information_schema.columns
        where table_schema = ? and table_name = ? order by ordinal_position""",
        [RAW_SCHEMA, table],
    ).fetchall()
    selected = [
        f'cast("{name}" as timestamptz) as "{name}"' if data_type == "TIMESTAMP" else f'"{name}"'
        for name, data_type in columns
    ]
    return f"select {', '.join(selected)} from {RAW_SCHEMA}.{table}"


def export_raw(settings: config.Settings) -> list[tuple[str, int]]:
    """Write every raw table to <state>/raw_parquet/<table>/, replacing each folder whole.

    Each table is written to a hidden folder and renamed into place, so a Spark job reading
    the previous export sees complete files (Spark skips names starting with '.').
    """
    if not settings.warehouse.is_file():
        raise SparkTransformError(f"there is no warehouse at {settings.warehouse}: run `make load` first")
    out = raw_parquet_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    con = duckdb.connect(str(settings.warehouse), read_only=True, config=config.duckdb_config())
    exported = []
    try:
        tables = raw_tables(con)
        if not tables:
            raise SparkTransformError(f"{settings.warehouse} has no raw zone yet: run `make load` first")
        for table in tables:
            fresh = out / f".{table}.{run}"
            fresh.mkdir()
            target = config.sql_string(fresh / "part-00000.parquet")
            con.execute(
                f"copy ({_select_for_spark(con, table)}) to {target} (format parquet, compression zstd)"
            )
            ((rows,),) = con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchall()
            current = out / table
            old = out / f".{table}.{run}.old"
            if current.exists():
                os.replace(current, old)
            os.replace(fresh, current)
            shutil.rmtree(old, ignore_errors=True)
            exported.append((table, rows))
    finally:
        con.close()
    return exported


# --- 3. the Spark build's marts, read back -----------------------------------------------------


def spark_session(settings: config.Settings):
    """A local Spark session on the warehouse and metastore of the dbt `spark` target.

    Only one process can open the Derby metastore at a time: call this after dbt has ended.
    """
    from pyspark.sql import SparkSession

    home = spark_dir(settings)
    builder = SparkSession.builder.enableHiveSupport().appName("cc_warehouse")
    for key, value in {
        "spark.master": f"local[{os.environ.get('CC_SPARK_CORES', '2')}]",
        "spark.driver.memory": os.environ.get("CC_SPARK_DRIVER_MEMORY", "4g"),
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
        "spark.local.dir": str(home / "tmp"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": os.environ.get("CC_SPARK_SHUFFLE_PARTITIONS", "2"),
        "spark.sql.adaptive.enabled": os.environ.get("CC_SPARK_ADAPTIVE", "false"),
        "spark.sql.ansi.enabled": "false",  # as dbt-spark sets it
    }.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def copy_from_spark(settings: config.Settings, audit_relations: list[str]) -> Path:
    """Copy every mart of the Spark build, and the given stored failures, into DuckDB.

    The copy (<state>/spark/marts.duckdb: marts in `main`, stored failures in `audit`) is
    what the summary and the publish read, as they read the DuckDB warehouse after a
    DuckDB build.
    """
    schema = spark_schema()
    target = marts_copy(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    spark = spark_session(settings)
    con = duckdb.connect(str(fresh), config=config.duckdb_config())
    try:
        marts = sorted(
            row.tableName
            for row in spark.sql(f"show tables in {schema}").collect()
            if not row.isTemporary and row.tableName.startswith(publish.MART_PREFIXES)
        )
        if not marts:
            raise SparkTransformError(f"the Spark schema {schema} holds no marts")
        con.execute(f"create schema {AUDIT_SCHEMA}")
        copies = [(f"{schema}.{name}", f"main.{name}") for name in marts]
        copies += [(relation, relation) for relation in audit_relations]
        for source, destination in copies:
            frame = spark.table(source).toArrow()  # noqa: F841 - read by DuckDB below
            con.execute(f"create table {destination} as select * from frame")
            _naive_timestamps(con, destination)
        con.execute("checkpoint")
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        raise
    finally:
        spark.stop()
    con.close()
    os.replace(fresh, target)
    return target


def copy_in_child(settings: config.Settings, audit_relations: list[str]) -> Path:
    """copy_from_spark in a child process (`spark copy-marts`): a process that opened Spark's
    Derby metastore holds it until it exits, and dbt (another process) builds again after
    the copy when the disclosure audit hides more counts."""
    result = subprocess.run(
        [sys.executable, "-m", "cc_warehouse", "spark", "copy-marts", *audit_relations],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SparkTransformError(f"copying the marts from Spark failed: {result.stderr.strip()[-2000:]}")
    return marts_copy(settings)


def _naive_timestamps(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Spark's TIMESTAMP is an instant (TIMESTAMPTZ in DuckDB): back to local time, as the
    DuckDB build stores it, so that both builds publish the same column types."""
    schema, name = table.split(".")
    columns = con.execute(
        """select column_name from information_schema.columns
        where table_schema = ? and table_name = ? and data_type = 'TIMESTAMP WITH TIME ZONE'""",
        [schema, name],
    ).fetchall()
    for (column,) in columns:
        con.execute(f'alter table {table} alter column "{column}" type timestamp')


# --- the whole transform -----------------------------------------------------------------------


def run_dbt(settings: config.Settings, commands: list[list[str]]) -> list[int | None]:
    """Run dbt commands in turn on the Spark target in one dbt process, so one Spark session
    (dbt_steps.run): the exit code of each, None for one not run."""
    env = {"CC_TARGET": "spark", "CC_WAREHOUSE": str(settings.warehouse)}
    options = ["--target", "spark", "--target-path", str(target_path())]
    try:
        return dbt_steps.run([[*command, *options] for command in commands], env)
    except OSError as error:
        raise SparkTransformError(f"cannot run dbt: {error}") from None


def stored_failures(run_results: Path) -> list[str]:
    """The audit relations of the tests that did not pass (what the summary shows)."""
    return [
        row["relation"]
        for row in dbt_summary.results(run_results)
        if row["status"] in ("warn", "fail") and (row["relation"] or "").startswith(f"{AUDIT_SCHEMA}.")
    ]


def transform(settings: config.Settings, dbt_args: list[str], freshness: bool = True) -> list[str]:
    with atomic.pipeline_lock(settings, "transform"):
        atomic.recover(settings)
        disclosure_audit.ensure_table(settings.warehouse)
        exported = export_raw(settings)
        print(
            f"raw zone exported for Spark: {len(exported)} tables to {raw_parquet_dir(settings)}", flush=True
        )
        run_results = target_path() / "run_results.json"
        run_results.unlink(missing_ok=True)
        # The freshness check in the build's dbt process, after it (one Spark session), and
        # before a child process starts Spark to copy the marts: the session's Derby
        # metastore can be open in one process at a time, and stays open until it exits.
        codes = run_dbt(settings, dbt_steps.build_then_freshness(dbt_args, freshness))
        status = codes[0]
        if not run_results.exists():
            raise SparkTransformError(f"dbt build --target spark failed (exit code {status})")
        copy = copy_in_child(settings, stored_failures(run_results))
        rows = dbt_summary.summarise(
            run_results, copy, settings.reports_dir / "data_quality" / "dbt_test_warnings.csv"
        )
        print(dbt_summary.render(rows), flush=True)
        if status != 0:
            raise SparkTransformError(
                f"dbt build --target spark failed (exit code {status}): see the table above and "
                "logs/dbt.log; the published copies are unchanged"
            )
        if dbt_steps.stale(codes):
            print(dbt_steps.STALE, flush=True)
        protect(settings, copy)
        try:
            staged = publish.stage(settings, copy)
            activation.activate(settings, staged.version)
        except (OSError, publish.PublishError) as error:
            raise SparkTransformError(f"publishing failed: {error}") from None
        return staged.tables


def protect(settings: config.Settings, copy: Path) -> None:
    """The disclosure audit of the public marts Spark built (disclosure_audit.protect): the
    counts it hides go into the raw zone of the warehouse, exported again for Spark, which
    builds the public marts again; they are then copied back into `copy`."""

    def rebuild() -> None:
        export_raw(settings)
        with dbt_steps.merged_run_results(target_path()):
            status = run_dbt(settings, [disclosure_audit.REBUILD])[0]
        if status != 0:
            raise SparkTransformError(
                f"dbt build --target spark of the public marts after the disclosure audit failed "
                f"(exit code {status}): see logs/dbt.log; the published copies are unchanged"
            )
        copy_in_child(settings, [])

    try:
        result = disclosure_audit.protect(copy, settings.warehouse, rebuild, settings.audit_rounds)
    except disclosure_audit.AuditError as error:
        raise SparkTransformError(
            f"the disclosure audit failed, so nothing is published: {error}; the published copies "
            "are unchanged"
        ) from None
    if result is not None:
        print(result.summary(), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["transform", "export-raw", "copy-marts"])
    parser.add_argument("--no-freshness", action="store_true", help="skip `dbt source freshness`")
    args, dbt_args = parser.parse_known_args(argv)
    settings = config.settings()
    started = time.perf_counter()
    try:
        if args.step == "export-raw":
            exported = export_raw(settings)
            rows = sum(count for _, count in exported)
            print(
                f"raw zone exported for Spark: {len(exported)} tables, {rows:,d} rows, to "
                f"{raw_parquet_dir(settings)} ({time.perf_counter() - started:.1f} s)"
            )
            return 0
        if args.step == "copy-marts":  # the transform's own step (copy_in_child)
            copy_from_spark(settings, dbt_args)
            return 0
        tables = transform(settings, dbt_args, freshness=not args.no_freshness)
    except (SparkTransformError, files.StateError) as error:
        print(f"spark {args.step} failed: {error}", file=sys.stderr)
        return 1
    print(
        f"built on Spark and published {len(tables)} marts to {settings.published_dir} "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    return 0
