"""`make bench` and its floor.

The floor (bench/floor.sql) is what the benchmark divides the dbt models' time by, so it must
do the models' whole job minus the statistics: its rows are checked to equal
fct_indicator_values' counts exactly, on a small demo city with two local authorities.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cc_warehouse import bench
from cc_warehouse.bench import measure, report
from pipeline import ROOT, State

KEY = "indicator_id, area_type, area_code, period_type, period_label, breakdown"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> State:
    state = State(tmp_path_factory.mktemp("floor"))
    state.python(
        "cc_warehouse", "demo",
        "--out", str(state.landing), "--seed", "5", "--births-per-year", "900",
        "--centres", "5", "--lsoas", "30", "--las", "2", "--years", "3", "--quiet",
    )  # fmt: skip
    state.python("cc_warehouse", "load", "--no-validate")
    state.dbt("build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
    return state


def test_the_floor_computes_every_count_of_fct_indicator_values(city: State) -> None:
    con = duckdb.connect(str(city.warehouse), read_only=True)
    try:
        floor = con.execute((ROOT / "bench" / "floor.sql").read_text(encoding="utf-8")).fetchall()
        mart = con.execute(f"select {KEY}, numerator, denominator from main.fct_indicator_values").fetchall()
        kinds = con.execute(
            "select count(distinct indicator_id), count(distinct area_type), "
            "count(distinct period_type), count(distinct breakdown) from main.fct_indicator_values"
        ).fetchone()
    finally:
        con.close()
    assert kinds == (10, 2, 4, 12)  # every indicator, area type, period type and breakdown
    assert len(floor) == len(set(floor))  # one row per indicator, area, period and breakdown
    assert sorted(floor) == sorted(mart)


def test_the_floor_reads_only_the_raw_zone_and_code_lists() -> None:
    lines = (ROOT / "bench" / "floor.sql").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line.split("--")[0] for line in lines)
    models = {path.stem for path in Path(ROOT / "models").rglob("*.sql")}
    assert not [name for name in models if name in text], "the floor must not read a model"


def test_the_load_floor_writes_every_row_with_the_loader_s_pseudonyms(city: State, tmp_path: Path) -> None:
    """The load floor does the part of the loader's work no loader can leave out: every row
    read and written, every NHS number replaced by the same HMAC-SHA256 as the loader's."""
    assert measure.load_floor(city.landing, tmp_path) == 0
    floor = duckdb.connect(str(tmp_path / "load_floor.duckdb"), read_only=True)
    warehouse = duckdb.connect(str(city.warehouse), read_only=True)
    try:
        tables = [name for (name,) in floor.execute("select table_name from duckdb_tables()").fetchall()]
        floor_rows = sum(floor.execute(f"select count(*) from {table}").fetchone()[0] for table in tables)
        read = warehouse.execute("select sum(rows_read) from raw.load_log").fetchone()[0]
        values = " union all ".join(
            f"select {column} as value from {table}"
            for table in tables
            for (column,) in floor.execute(
                "select column_name from duckdb_columns() "
                "where table_name = ? and column_name like '%nhs_number'",
                [table],
            ).fetchall()
        )
        kinds = floor.execute(
            f"""select count(*) filter (where regexp_full_match(value, '[0-9a-f]{{64}}')),
                count(*) filter (where value is not null), list(distinct value)
            from ({values})"""
        ).fetchone()
        loaded = warehouse.execute(
            "select list(distinct child_pseudo_id) from raw.health_visiting"
        ).fetchone()[0]
    finally:
        floor.close()
        warehouse.close()
    # one table per set of files with the same columns: several per feed at most, not one per file
    assert 4 <= len(tables) < len(list(city.landing.glob("*/*.csv")))
    assert 0.98 * read <= floor_rows <= read
    assert kinds[0] == kinds[1] > 0  # no NHS number is written in clear
    # the same key and HMAC: the numbers sent clean get the loader's pseudonyms
    assert len(set(loaded) & set(kinds[2])) >= 0.9 * len(loaded)


def test_bench_writes_every_figure_on_a_tiny_city(tmp_path: Path) -> None:
    out = tmp_path / "results"
    work = tmp_path / "work"
    tiny = ("--births-per-year", "300", "--centres", "2", "--lsoas", "10", "--years", "2")
    assert bench.main(["--preset", "city", "--work", str(work), "--out", str(out), *tiny]) == 0
    assert not work.exists()  # the scratch state is removed
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert json.loads((out / "results-city.json").read_text(encoding="utf-8")) == results
    markdown = (out / "results.md").read_text(encoding="utf-8")

    assert results["preset"] == "city" and results["scale"] == list(tiny)
    assert results["machine"]["cores"] >= 1 and results["machine"]["memory_bytes"] > 0
    assert results["machine"]["cpu_model"]
    assert len(results["git"]["commit"]) == 40
    assert results["date"].startswith("20")
    feeds = results["rows_per_feed"]
    assert set(feeds) == {"maternity", "health_visiting", "ncmp", "reference"}
    assert all(feed["rows_read"] > 0 for feed in feeds.values())
    assert {name.split("/")[0] for name in results["new_quarter_files"]} >= {"maternity", "health_visiting"}

    stages = results["stages"]
    assert list(stages) == [
        "generate", "load_base", "transform_base", "load_new_quarter", "transform_new_quarter",
        "transform_full", "transform_no_change", "publish", "models", "floor", "raw_scan",
        "load_floor",
    ]  # fmt: skip
    for stage in stages.values():
        assert stage["exit_code"] == 0 and stage["seconds"] > 0 and stage["peak_rss_bytes"] > 2**20

    figures = results["figures"]
    assert figures["rows_loaded"] == sum(feed["rows_read"] for feed in feeds.values())
    # every data row the generator wrote is read by the loader, once
    assert figures["rows_generated"] == sum(feeds[feed]["rows_read"] for feed in bench.EXTRACT_FEEDS)
    assert figures["generate_rows_per_second"] == pytest.approx(
        figures["rows_generated"] / stages["generate"]["seconds"], rel=0.01
    )
    assert figures["load_rows_per_second"] > 0
    # the load floor writes the rows the loader read (DuckDB skips the few it cannot parse)
    assert 0.98 * figures["rows_loaded"] <= figures["load_floor_rows"] <= figures["rows_loaded"]
    assert figures["load_floor_rows_per_second"] == pytest.approx(
        figures["load_floor_rows"] / figures["load_floor_query_seconds"], rel=0.01
    )
    assert figures["load_over_floor"] == pytest.approx(
        (stages["load_base"]["seconds"] + stages["load_new_quarter"]["seconds"])
        / figures["load_floor_query_seconds"],
        rel=0.01,
    )
    assert figures["transform_no_change_skipped"] is True
    assert figures["transform_no_change_seconds"] < stages["transform_full"]["seconds"]
    for ratio in ("models_over_floor", "incremental_over_full", "models_over_floor_in_engine"):
        assert 0 < figures[ratio] < 10_000
    assert figures["floor_query_seconds"] > 0 and figures["raw_scan_query_seconds"] > 0
    assert figures["pipeline_seconds"] == pytest.approx(
        sum(stages[name]["seconds"] for name in bench.PIPELINE_STAGES), abs=0.01
    )
    assert 0 < figures["peak_memory_gib"] < 24

    for build in results["dbt_build_seconds_by_kind"].values():
        assert build["model"] > 0 and build["test"] > 0 and build["elapsed"] > 0
    assert {target["figure"] for target in results["targets"]} == set(report.TARGETS)
    for target in results["targets"]:
        assert target["met"] in (True, False, None)
        assert target["what"] in markdown
    assert "n/a here (england)" in markdown  # the 10-minute target is england's
    assert "| models |" in markdown and "| maternity |" in markdown


def test_bench_without_builds_or_floor_measures_the_loads(tmp_path: Path) -> None:
    out = tmp_path / "results"
    tiny = ("--births-per-year", "200", "--centres", "2", "--lsoas", "10", "--years", "2")
    argv = ["--preset", "city", "--work", str(tmp_path / "work"), "--out", str(out)]
    argv += ["--no-builds", "--no-floor"]
    assert bench.main([*argv, *tiny]) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(results["stages"]) == ["generate", "load_base", "load_new_quarter", "raw_scan", "load_floor"]
    assert results["builds"] is False and results["floor"] is False
    figures = results["figures"]
    assert figures["load_rows_per_second"] > 0 and figures["raw_scan_query_seconds"] > 0
    assert figures["load_over_floor"] > 0
    assert figures["models_over_floor"] is None and figures["incremental_over_full"] is None
    assert "not measured (--no-builds or --no-floor)" in (out / "results.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("ncmp", "held_back_ncmp"),
    [(["20240920", "20250910"], []), (["20240920", "20250402", "20250701"], ["20250402"])],
)
def test_the_new_quarter_is_the_latest_quarterly_extracts(
    tmp_path: Path, ncmp: list[str], held_back_ncmp: list[str]
) -> None:
    landing, new_quarter = tmp_path / "landing", tmp_path / "new"
    names = {
        "maternity": ["20250131", "20250429"],
        "health_visiting": ["20250127", "20250502"],
        "ncmp": ncmp,
    }
    for feed, dates in names.items():
        (landing / feed).mkdir(parents=True)
        for date in dates:
            (landing / feed / f"{feed}_{date}.csv").write_text("x\n")
    moved = bench.hold_back_new_quarter(landing, new_quarter)
    expected = ["maternity/maternity_20250429.csv", "health_visiting/health_visiting_20250502.csv"]
    assert moved == expected + [f"ncmp/ncmp_{date}.csv" for date in held_back_ncmp]
    assert sorted(p.name for p in new_quarter.rglob("*.csv")) == sorted(Path(m).name for m in moved)
    bench.bring_in_new_quarter(landing, new_quarter)
    assert sum(len(dates) for dates in names.values()) == len(list(landing.rglob("*.csv")))
