"""`make bench` and its floor.

The floor (bench/floor.sql) is what the benchmark divides the dbt models' time by, so it must
do the models' whole job minus the statistics: its rows are checked to equal
fct_indicator_values' counts exactly, on a small demo city with two local authorities.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline import ROOT, State

KEY = "indicator_id, area_type, area_code, period_type, period_label, breakdown"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> State:
    state = State(tmp_path_factory.mktemp("floor"))
    state.python(
        "cc_warehouse.demo",
        "--out", str(state.landing), "--seed", "5", "--births-per-year", "900",
        "--centres", "5", "--lsoas", "30", "--las", "2", "--years", "3", "--quiet",
    )  # fmt: skip
    state.python("cc_warehouse.load", "--no-validate")
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
