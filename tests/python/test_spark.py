"""The same dbt project on Spark (dbt-spark, pyspark in local mode) as on DuckDB.

One small demo city is loaded once, then built twice: `dbt build` on DuckDB, and the Spark
transform (`CC_TARGET=spark make transform`: raw zone exported to Parquet, `dbt build
--target spark`, marts read back and published). Every model, seed, snapshot, unit test and
data test must end the same way on both engines, and the marts must hold the same rows:
counts exactly, statistics to 1e-9.
"""

from __future__ import annotations

import json
import shutil
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
KEYS = {
    "fct_indicator_values": [
        "indicator_id", "area_type", "area_code", "period_type", "period_label", "breakdown",
    ],
    "fct_return_completeness": ["feed", "item_id", "area_type", "area_code", "period_label"],
}  # fmt: skip
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> State:
    state = State(tmp_path_factory.mktemp("spark_city"))
    state.python(
        "cc_warehouse.demo",
        "--out", str(state.landing), "--seed", "11", "--births-per-year", "600",
        "--centres", "3", "--lsoas", "15", "--years", "3", "--quiet",
    )  # fmt: skip
    state.python("cc_warehouse.load", "--no-validate")
    state.dbt("build", CC_TARGET="duckdb")  # into state/w.duckdb; run results in <root>/target
    # what `CC_TARGET=spark make transform` runs
    state.python(
        "cc_warehouse.transform", "--no-freshness", "--log-path", str(state.root / "logs_spark"),
        CC_TARGET="spark", DBT_TARGET_PATH=str(state.root / "target_spark"),
    )  # fmt: skip
    return state


def run_results(path: Path) -> dict[str, tuple[str, int]]:
    """Status and failing rows of every node dbt ran (exposures are listed as no-ops)."""
    results = json.loads((path / "run_results.json").read_text(encoding="utf-8"))["results"]
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


def test_every_node_ends_as_on_duckdb(builds):
    duck = run_results(builds.root / "target")
    spark = run_results(builds.root / "target_spark")
    # every model, seed, snapshot, test and unit test DuckDB ran, Spark ran too
    assert set(spark) == set(duck)
    assert {status for status, _ in spark.values()} <= {"success", "pass", "warn"}
    different = {node: (duck[node], spark[node]) for node in spark if duck.get(node) != spark[node]}
    assert not different  # the same warnings, with the same numbers of failing rows
    kinds = {node.split(".")[0] for node in spark}
    assert {"model", "seed", "snapshot", "test", "unit_test"} <= kinds


@pytest.mark.parametrize("table", sorted(KEYS))
def test_marts_equal_duckdbs_row_by_row(builds, table):
    duck = frame(builds.warehouse, table)
    spark = frame(builds.published, table)
    assert len(duck) > 100
    assert list(spark.columns) == list(duck.columns)
    assert len(spark) == len(duck)
    assert (spark[KEYS[table]] == duck[KEYS[table]]).all(axis=None), "different rows"
    for column in duck.columns:
        ours, theirs = duck[column], spark[column]
        assert (ours.isna() == theirs.isna()).all(), column
        known = ours.notna()
        sample = ours[known].iloc[0] if known.any() else None
        if isinstance(sample, (float, Decimal)) and not isinstance(sample, bool):
            difference = (ours[known].astype(float) - theirs[known].astype(float)).abs()
            assert difference.max() <= TOLERANCE, column
        else:
            assert (ours[known] == theirs[known]).all(), column


def test_every_published_mart_has_the_duckdb_builds_columns_and_rows(builds):
    con = duckdb.connect(str(builds.published), read_only=True)
    try:
        con.execute("attach ? as duck (read_only)", [str(builds.warehouse)])

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


def test_spark_keeps_its_files_beside_the_warehouse(builds):
    state = builds.warehouse.parent
    assert (state / "raw_parquet" / "maternity").is_dir()
    assert (state / "spark" / "metastore_db").is_dir()
    assert (state / "spark" / "warehouse" / "childrens_centres.db" / "fct_indicator_values").is_dir()
    assert (state / "spark" / "warehouse" / "audit.db").is_dir()
    # nothing of Spark's lands in the repository
    assert not (ROOT / "metastore_db").exists() and not (ROOT / "spark-warehouse").exists()
