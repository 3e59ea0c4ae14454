"""The same dbt project on Spark (dbt-spark, pyspark in local mode) as on DuckDB.

One small demo city is loaded once, then built on both engines: `dbt build` on DuckDB, and
the Spark transform (`CC_TARGET=spark make transform`: raw zone exported to Parquet, `dbt
build --target spark`, marts read back, audited and published). Every model, seed, unit test
and data test must end the same way on both engines, and the marts must hold the same rows
(counts exactly, statistics to 1e-9). Once, as it is the slowest leg of the suite: the
incremental branches (fct_indicator_versions' append among them) are covered on Spark by
their dbt unit tests, which run in this build.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline import ROOT, State

pytest.importorskip("pyspark", reason="the Spark leg needs pyspark (requirements.lock)")
pytest.importorskip("dbt.adapters.spark", reason="the Spark leg needs dbt-spark (requirements.lock)")
if shutil.which("java") is None:
    pytest.skip("the Spark leg needs Java 17 (Debian: openjdk-17-jre-headless)", allow_module_level=True)

pytestmark = pytest.mark.slow

# The marts compared row by row, with the columns that identify a row.
FIGURE = ["indicator_id", "area_type", "area_code", "period_type", "period_label", "breakdown"]
KEYS = {
    "fct_indicator_values": FIGURE,
    "fct_indicator_revisions": FIGURE,
    "fct_return_completeness": ["feed", "item_id", "area_type", "area_code", "period_label"],
}
# When each engine recorded a version of a figure: its own build's clock, so only whether
# there is one can be compared.
BUILD_TIMES = {"last_revised_at", "previous_recorded_at"}
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Build:
    """What the tests read of one build on both engines, copied aside: the next build of the
    same state replaces the originals in place."""

    folder: Path

    @property
    def duck_results(self) -> Path:
        return self.folder / "duckdb_run_results.json"

    @property
    def spark_results(self) -> Path:
        return self.folder / "spark_run_results.json"

    @property
    def spark_output(self) -> Path:
        """What the Spark transform printed."""
        return self.folder / "spark_transform.out"

    @property
    def duck(self) -> Path:
        """The DuckDB warehouse (marts in `main`)."""
        return self.folder / "w.duckdb"

    @property
    def spark(self) -> Path:
        """The marts Spark built, as published."""
        return self.folder / "published.duckdb"


def build_on_both_engines(state: State, freshness: bool) -> None:
    # what `CC_TARGET=spark make transform` runs; first, because its disclosure audit may hide
    # more counts (in the raw zone), which the DuckDB build then reads too
    result = state.python(
        "cc_warehouse", "transform", *([] if freshness else ["--no-freshness"]),
        "--log-path", str(state.root / "logs_spark"),
        CC_TARGET="spark", DBT_TARGET_PATH=str(state.root / "target_spark"),
    )  # fmt: skip
    (state.root / "spark_transform.out").write_text(result.stdout)
    state.dbt("build", CC_TARGET="duckdb")  # into state/w.duckdb; run results in <root>/target


def keep(state: State, name: str) -> Build:
    build = Build(state.root / name)
    build.folder.mkdir()
    shutil.copy(state.root / "target" / "run_results.json", build.duck_results)
    shutil.copy(state.root / "target_spark" / "run_results.json", build.spark_results)
    shutil.copy(state.root / "spark_transform.out", build.spark_output)
    shutil.copy(state.warehouse, build.duck)
    wal = state.warehouse.with_name(state.warehouse.name + ".wal")
    if wal.exists():
        shutil.copy(wal, build.duck.with_name(build.duck.name + ".wal"))
    shutil.copy(state.published, build.spark)
    return build


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> State:
    state = State(tmp_path_factory.mktemp("spark_city"))
    state.python(
        "cc_warehouse", "demo",
        "--out", str(state.landing), "--seed", "11", "--births-per-year", "600",
        "--centres", "3", "--lsoas", "15", "--years", "3", "--quiet",
    )  # fmt: skip
    state.python("cc_warehouse", "load", "--no-validate")
    return state


@pytest.fixture(scope="module")
def build(city) -> Build:
    build_on_both_engines(city, freshness=True)
    return keep(city, "built")


def run_results(path: Path) -> dict[str, tuple[str, int]]:
    """Status and failing rows of every node dbt ran (exposures are listed as no-ops)."""
    results = json.loads(path.read_text(encoding="utf-8"))["results"]
    return {
        r["unique_id"]: (r["status"], r["failures"] or 0)
        for r in results
        if not r["unique_id"].startswith("exposure.")
    }


def frame(database: Path, table: str) -> pd.DataFrame:
    con = duckdb.connect(str(database), read_only=True)
    try:
        data = con.execute(f"select * from main.{table}").df()
    finally:
        con.close()
    return data.sort_values(KEYS[table], ignore_index=True)


def versions(database: Path) -> pd.DataFrame:
    """Every version of every figure in fct_indicator_versions, numbered in the order they
    were recorded."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        figure = ", ".join(FIGURE)
        return con.execute(
            f"""select {figure}, units, denominator, numerator, is_complete,
                row_number() over (partition by {figure} order by recorded_at) as version,
                count(*) over (partition by {figure}) as versions
            from main.fct_indicator_versions
            order by all"""
        ).df()
    finally:
        con.close()


def test_every_node_ends_as_on_duckdb(build):
    duck = run_results(build.duck_results)
    spark = run_results(build.spark_results)
    # every model, seed, test and unit test DuckDB ran, Spark ran too
    assert set(spark) == set(duck)
    assert {status for status, _ in spark.values()} <= {"success", "pass", "warn"}
    different = {node: (duck[node], spark[node]) for node in spark if duck.get(node) != spark[node]}
    assert not different  # the same warnings, with the same numbers of failing rows
    kinds = {node.split(".")[0] for node in spark}
    assert {"model", "seed", "test", "unit_test"} <= kinds


@pytest.mark.parametrize("table", sorted(KEYS))
def test_marts_equal_duckdbs_row_by_row(build, table):
    duck = frame(build.duck, table)
    spark = frame(build.spark, table)
    assert len(duck) > 100
    assert list(spark.columns) == list(duck.columns)
    assert len(spark) == len(duck)
    assert (spark[KEYS[table]] == duck[KEYS[table]]).all(axis=None), "different rows"
    for column in duck.columns:
        ours, theirs = duck[column], spark[column]
        assert (ours.isna() == theirs.isna()).all(), column
        if column in BUILD_TIMES:
            continue
        known = ours.notna()
        sample = ours[known].iloc[0] if known.any() else None
        if isinstance(sample, (float, Decimal)) and not isinstance(sample, bool):
            difference = (ours[known].astype(float) - theirs[known].astype(float)).abs()
            assert difference.max() <= TOLERANCE, column
        else:
            assert (ours[known] == theirs[known]).all(), column


def test_the_versions_of_figures_are_the_same_as_on_duckdb(build):
    duck = versions(build.duck)
    assert len(duck) > 100
    pd.testing.assert_frame_equal(versions(build.spark), duck, check_dtype=False)


def test_every_published_mart_has_the_duckdb_builds_columns_and_rows(build):
    con = duckdb.connect(str(build.spark), read_only=True)
    try:
        con.execute("attach ? as duck (read_only)", [str(build.duck)])

        def marts(database: str) -> dict[str, list[tuple[str, str]]]:
            rows = con.execute(
                """select table_name, column_name, data_type from duckdb_columns()
                where database_name = ? and schema_name = 'main'
                    and regexp_matches(table_name, '^(fct|dim|pub)_')
                    and table_name in (select table_name from duckdb_tables())
                order by table_name, column_index""",
                [database],
            ).fetchall()
            columns: dict[str, list[tuple[str, str]]] = {}
            for table, column, data_type in rows:
                columns.setdefault(table, []).append((column, data_type))
            return columns

        published = marts(con.execute("select current_database()").fetchone()[0])
        duck = marts("duck")
        assert published == duck  # the same marts, columns and types
        for name in published:
            ours = con.execute(f"select count(*) from duck.main.{name}").fetchall()
            theirs = con.execute(f"select count(*) from main.{name}").fetchall()
            assert ours == theirs, name
    finally:
        con.close()


def test_spark_keeps_its_files_beside_the_warehouse(city, build):
    state = city.warehouse.parent
    assert (state / "raw_parquet" / "maternity").is_dir()
    assert (state / "spark" / "metastore_db").is_dir()
    assert (state / "spark" / "warehouse" / "childrens_centres.db" / "fct_indicator_values").is_dir()
    assert (state / "spark" / "warehouse" / "audit.db").is_dir()
    # nothing of Spark's lands in the repository
    assert not (ROOT / "metastore_db").exists() and not (ROOT / "spark-warehouse").exists()


def test_source_freshness_runs_in_the_spark_build_s_dbt_process(build):
    """One dbt process (cc_warehouse.dbt_steps, which prints each command's seconds), so one
    Spark session, builds and then checks freshness."""
    output = build.spark_output.read_text()
    assert re.search(r"^dbt build: [0-9.]+ s\ndbt source freshness: [0-9.]+ s$", output, re.MULTILINE)
    assert "older than allowed" not in output  # the check itself succeeded on Spark
