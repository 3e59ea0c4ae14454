"""A new quarter built on top of the last build gives exactly what a full rebuild gives.

A small demo city is loaded and built without its latest quarter's extracts. Then the new
quarter arrives together with corrections of old periods (a later maternity extract
re-sending births of a complete quarter in the middle of the series, some with another
weight, some moved to another quarter or another delivery, one without the baby's NHS
number, a later NCMP extract re-sending measurements of the
latest complete academic year with another weight, and a maternity extract older than any
loaded, arriving late, whose versions must lose), and is loaded. The state is copied:
one copy is built by `make transform` (an incremental build: dbt's incremental models, given
the vars the transform works out from the load log), the other by `make transform --force`
(a full rebuild). Every staging, intermediate and mart table (stg_*, int_*, fct_*,
dim_*, pub_*), fct_indicator_versions (the memory of figures) included, must be equal row
by row: counts and text exactly, statistics to 1e-9; only the times of the builds
themselves may differ.

Then one more extract changes births of the latest quarter only, and the incremental path is
built again, incrementally and (from a copy) in full: the corrections' revisions, in periods
this build does not recompute, must be cleared as a full build clears them.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from cc_warehouse import bench
from cc_warehouse.ingest.csvfile import decode
from pipeline import State

BUILD_ARGS = ("--no-freshness",)
# Columns holding when a build ran (not what it computed): the two builds ran at other times.
BUILD_TIMES = {
    *("recorded_at", "last_revised_at", "revised_at", "previous_recorded_at"),
}
FLOATS = ("DOUBLE", "FLOAT", "REAL")


def transform(state: State, *args: str) -> str:
    return state.transform(*BUILD_ARGS, *args)


def latest_extract_date(folder: Path, feed: str) -> dt.date:
    latest = max(path.name for path in folder.glob(f"{feed}_*.csv"))
    return dt.datetime.strptime(latest[len(feed) + 1 : -4], "%Y%m%d").date()


def resend(
    state: State, feed: str, records: list[tuple], table: str, key: str, columns: str, path: Path
) -> int:
    """Write the extract `path` re-sending `records` ((key, file name) pairs) of `feed`: their
    rows, from the landing file holding each one's latest version, with `columns` selected
    from them (`sent.*`, changed as the caller says; `<table>.row_number` numbers the records).
    Returns the rows written.

    The NHS numbers in a landing file are in clear, as a real extract has them; the files are
    made UTF-8 first.
    """
    decoded = state.root / "decoded"
    (decoded / feed).mkdir(parents=True, exist_ok=True)
    for file_name in {name for _, name in records}:
        text, _ = decode((state.landing / file_name).read_bytes(), file_name)
        (decoded / file_name).write_bytes(text)
    con = duckdb.connect()
    try:
        con.execute(f"create table {table} ({key} varchar, file_name varchar, row_number bigint)")
        con.executemany(
            f"insert into {table} values (?, ?, ?)",
            [(record, file_name, number) for number, (record, file_name) in enumerate(records)],
        )
        options = "all_varchar = true, filename = true, union_by_name = true"
        con.execute(
            f"""copy (
                select {columns}
                from read_csv('{decoded}/{feed}/*.csv', {options}) as sent
                inner join {table}
                    on sent.{key} = {table}.{key}
                    and parse_filename(sent.filename) = parse_filename({table}.file_name)
            ) to '{path}' (header)"""
        )
        return con.execute(f"select count(*) from read_csv('{path}')").fetchone()[0]
    finally:
        con.close()


def write_corrections(state: State) -> dict[str, int]:
    """Later extracts re-sending records of old periods, changed; returns how many of each."""
    # a quarter in the middle of the series, so that the periods before it stay as built
    ((start, end),) = state.query(
        """select period_start, period_end from main.dim_period
        where period_type = 'quarter' and is_complete order by period_start desc limit 1 offset 5"""
    )
    births = state.query(
        """select birth_id, file_name from main.stg_maternity__births
        where delivery_date between ? and ? and is_live_birth order by birth_id limit 12""",
        [start, end],
    )
    ((academic_year,),) = state.query(
        """select max(period_label) from main.dim_period
        where period_type = 'academic_year' and is_complete"""
    )
    children = state.query(
        """select ncmp_id, file_name from main.stg_ncmp__measurements
        where academic_year = ? and is_measured and school_year = 'R'
        order by ncmp_id limit 10""",
        [academic_year],
    )
    assert len(births) == 12 and len(children) == 10
    maternity = state.landing / "maternity"
    ncmp = state.landing / "ncmp"
    maternity_date = latest_extract_date(maternity, "maternity") + dt.timedelta(days=1)
    earliest = min(path.name for path in maternity.glob("maternity_*.csv"))
    stale_date = dt.datetime.strptime(earliest[len("maternity_") : -4], "%Y%m%d").date()
    stale_date -= dt.timedelta(days=1)
    ncmp_date = latest_extract_date(ncmp, "ncmp") + dt.timedelta(days=1)
    # even rows: born at 2000 g; odd rows: delivered 100 days later (another quarter);
    # rows 1 and 5: moved to a delivery of their own (the old one may be left empty);
    # row 2: the baby's NHS number taken off (the child's reviews lose their link)
    counts = {
        "maternity": resend(
            state,
            "maternity",
            births,
            "births",
            "birth_id",
            """sent.* exclude (
                    filename, birth_weight_grams, delivery_date, delivery_id, baby_nhs_number
                ),
                case when births.row_number % 4 = 1 then sent.delivery_id || 'C'
                    else sent.delivery_id end as delivery_id,
                case when births.row_number != 2 then sent.baby_nhs_number end as baby_nhs_number,
                case when births.row_number % 2 = 0 then '2000'
                    else sent.birth_weight_grams end as birth_weight_grams,
                case when births.row_number % 2 = 0 then sent.delivery_date
                    else strftime(coalesce(
                        try_strptime(sent.delivery_date, '%Y-%m-%d'),
                        try_strptime(sent.delivery_date, '%d/%m/%Y')
                    ) + interval 100 day, '%Y-%m-%d') end as delivery_date""",
            maternity / f"maternity_{maternity_date:%Y%m%d}.csv",
        ),
        # an extract older than any loaded, arriving late: it re-sends the same births at
        # 1000 g, and loses to every version already held (the latest extract date wins)
        "maternity_stale": resend(
            state,
            "maternity",
            births,
            "births",
            "birth_id",
            "sent.* exclude (filename, birth_weight_grams), '1000' as birth_weight_grams",
            maternity / f"maternity_{stale_date:%Y%m%d}.csv",
        ),
        "ncmp": resend(
            state,
            "ncmp",
            children,
            "children",
            "ncmp_id",
            "sent.* exclude (filename, weight_kg), '38.5' as weight_kg",
            ncmp / f"ncmp_{ncmp_date:%Y%m%d}.csv",
        ),
    }
    assert counts == {"maternity": 12, "maternity_stale": 12, "ncmp": 10}
    return counts


def write_latest_quarter_change(state: State) -> Path:
    """A later maternity extract re-sending births of the latest quarter (still filling in,
    so no figure is revised) at 2100 g; returns its path."""
    ((start,),) = state.query("select max(period_start) from main.dim_period where period_type = 'quarter'")
    births = state.query(
        """select birth_id, file_name from main.stg_maternity__births
        where delivery_date >= ? and is_live_birth order by birth_id limit 5""",
        [start],
    )
    maternity = state.landing / "maternity"
    date = latest_extract_date(maternity, "maternity") + dt.timedelta(days=1)
    path = maternity / f"maternity_{date:%Y%m%d}.csv"
    written = resend(
        state,
        "maternity",
        births,
        "births",
        "birth_id",
        "sent.* exclude (filename, birth_weight_grams), '2100' as birth_weight_grams",
        path,
    )
    assert written == 5
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, object]:
    """The incremental path (`incremental`) and a full rebuild (`full`) of the same loaded state."""
    state = State(tmp_path_factory.mktemp("incremental") / "incremental")
    state.python(
        "cc_warehouse", "demo",
        "--out", str(state.landing), "--seed", "11", "--births-per-year", "300",
        "--centres", "3", "--lsoas", "12", "--years", "3", "--quiet",
    )  # fmt: skip
    new_quarter = state.root / "new_quarter"
    held_back = bench.hold_back_new_quarter(state.landing, new_quarter)
    state.python("cc_warehouse", "load", "--no-validate")
    first = transform(state)
    bench.bring_in_new_quarter(state.landing, new_quarter)
    corrections = write_corrections(state)
    state.python("cc_warehouse", "load", "--no-validate")
    full = State(state.root.parent / "full")
    shutil.copytree(state.root, full.root, symlinks=True, ignore=shutil.ignore_patterns("target", "logs"))
    # with source freshness, a dbt command after the build
    incremental_output = state.transform()
    full_output = transform(full, "--force")
    return {
        "incremental": state,
        "full": full,
        "held_back": held_back,
        "corrections": corrections,
        "outputs": (first, incremental_output, full_output),
    }


@pytest.fixture(scope="module")
def built_again(built: dict[str, object]) -> dict[str, object]:
    """The incremental path's state after one more extract, changing births of the latest
    quarter only, built incrementally again (`incremental`) and, from a copy, in full (`full`).

    The corrections revised figures of periods this build does not recompute; the latest
    data change is now this build's, so those figures are no longer `is_revised`.
    """
    previous: State = built["incremental"]  # type: ignore[assignment]
    incremental = State(previous.root.parent / "incremental_again")
    full = State(previous.root.parent / "full_again")
    ignore = shutil.ignore_patterns("target", "logs")
    shutil.copytree(previous.root, incremental.root, symlinks=True, ignore=ignore)
    revised = incremental.query("select count(*) from main.fct_indicator_revisions where is_revised")[0][0]
    write_latest_quarter_change(incremental)
    incremental.python("cc_warehouse", "load", "--no-validate")
    shutil.copytree(incremental.root, full.root, symlinks=True, ignore=ignore)
    return {
        "incremental": incremental,
        "full": full,
        "revised_before": revised,
        "outputs": (transform(incremental), transform(full, "--force")),
    }


def tables(state: State) -> list[str]:
    rows = state.query(
        """select table_schema || '.' || table_name from information_schema.tables
        where (
                table_schema = 'main'
                and regexp_matches(table_name, '^(fct|dim|pub|stg|int)_')
            )
        order by all"""
    )
    return [name for (name,) in rows]


def differences(incremental: Path, full: Path, table: str) -> list[tuple]:
    """Rows of `table` in one DuckDB file and not the other: exact, but floats within 1e-9."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as incremental_db (read_only)")
        con.execute(f"attach '{full}' as full_db (read_only)")
        schema, name = table.split(".")
        columns = con.execute(
            """select column_name, data_type from information_schema.columns
            where table_catalog = 'full_db' and table_schema = ? and table_name = ?
            order by ordinal_position""",
            [schema, name],
        ).fetchall()
        other = con.execute(
            """select column_name, data_type from information_schema.columns
            where table_catalog = 'incremental_db' and table_schema = ? and table_name = ?
            order by ordinal_position""",
            [schema, name],
        ).fetchall()
        assert other == columns, f"{table}: the columns differ"
        kept = [(column, kind) for column, kind in columns if column not in BUILD_TIMES]
        exact = [f'"{column}"' for column, kind in kept if kind not in FLOATS]
        floats = [f'"{column}"' for column, kind in kept if kind in FLOATS]
        order = ", ".join([*exact, *floats]) or "1"
        numbered = (
            "select {columns}, row_number() over (partition by {exact} order by {order}) as row_in_group "
            "from {{db}}.{table}".format(
                columns=", ".join([*exact, *floats]), exact=", ".join(exact) or "1", order=order, table=table
            )
        )
        same_key = " and ".join(
            f"q.{column} is not distinct from f.{column}" for column in [*exact, "row_in_group"]
        )
        close = " and ".join(
            f"(q.{column} is not distinct from f.{column} "
            f"or coalesce(abs(q.{column} - f.{column}) <= 1e-9 * greatest(1, abs(f.{column})), false))"
            for column in floats
        )
        return con.execute(
            f"""with q as ({numbered.format(db="incremental_db")}), f as ({numbered.format(db="full_db")})
            select q.*, f.* from q full outer join f on {same_key}
            where q.row_in_group is null or f.row_in_group is null or not ({close or "true"})
            limit 5"""
        ).fetchall()
    finally:
        con.close()


def test_the_new_quarter_and_the_corrections_reach_the_marts(built: dict[str, object]) -> None:
    incremental: State = built["incremental"]  # type: ignore[assignment]
    assert built["held_back"], "the city should have a latest quarter to hold back"
    held = list(built["held_back"])  # type: ignore[call-overload]
    loaded = incremental.query(
        "select count(*) from main.fct_load_files where list_contains(?, file_name)", [held]
    )
    assert loaded == [(len(held),)]
    revised = incremental.query("select count(*) from main.fct_indicator_revisions where is_revised")
    assert revised[0][0] > 0, "the corrections should restate some complete periods"


def recompute_from(output: str) -> str:
    found = re.search(r"the periods ending on or after (\d{4}-\d{2}-\d{2})", output)
    assert found, output
    return found.group(1)


def test_the_new_quarter_is_built_incrementally_and_force_builds_in_full(built: dict[str, object]) -> None:
    first, incremental, full = built["outputs"]  # type: ignore[misc]
    assert "full build" in first  # nothing built before
    assert "incremental build (extracts of health_visiting, maternity, ncmp)" in incremental
    assert "full build" in full and "incremental build" not in full
    # what is made of the project and the reference files alone stays as the last build left it
    for node in ("seed file main.ethnic_category", "sql table model main.stg_reference__postcode_lsoas"):
        assert node not in incremental, node
        assert f"OK loaded {node} " in full or f"OK created {node} " in full, node
    for model in (
        "stg_reference__lsoa_centres",
        "int_areas_joined",
        "dim_area",
        "int_england_benchmarks_dated",
    ):
        assert f"main.{model} " not in incremental and f"main.{model} " in full, model
    # but every test of warning severity runs, on the reference files too
    assert re.search(r"(PASS|WARN \d+) source_unique_reference_postcode_lsoa_postcode ", incremental)
    for stage in ("dbt build", "dbt source freshness", "checkpoint", "published copies written"):
        assert re.search(rf"^{stage}: [0-9.]+ s$", incremental, re.MULTILINE), stage
    # the corrected quarter is in the middle of the series: the periods ending before it are
    # kept as they were, and only the records loaded since are recomputed
    incremental_state: State = built["incremental"]  # type: ignore[assignment]
    since = recompute_from(incremental)
    kept = dict(
        incremental_state.query(
            "select period_type, count(*) from main.dim_period where period_end < ? group by all", [since]
        )
    )
    assert kept.keys() >= {"quarter", "rolling_12m"}, (since, kept)

    # the disclosure audit reads every programme of a new warehouse, then only those whose
    # counts changed since they passed: the same after the incremental build and in full
    def audited(output: str) -> tuple[int, int]:
        found = re.search(r"^disclosure audit passed: .* programmes audited: (\d+) of (\d+)", output, re.M)
        assert found, output
        return int(found.group(1)), int(found.group(2))

    (every, programmes), changed = audited(first), audited(incremental)
    assert every == programmes > changed[0] > 0
    assert audited(full) == changed
    # what dbt ran: the periods' models delete and insert the periods from that date on, the
    # records' models the records loaded since the last build
    run = incremental_state.root / "target" / "run" / "childrens_centres" / "models"
    counts = next(run.glob("**/int_indicator_counts_summed.sql")).read_text()
    assert "delete from" in counts and f"period_end >= cast('{since}' as date)" in counts
    births = next(run.glob("**/stg_maternity__births.sql")).read_text()
    compiled = run.parent.parent.parent / "compiled" / "childrens_centres" / "models"
    assert (
        "delete from" in births
        and "where loaded_at > cast(" in next(compiled.glob("**/stg_maternity__births.sql")).read_text()
    )


def test_every_mart_equals_a_full_rebuild_row_by_row(built: dict[str, object]) -> None:
    assert_equal_builds(built["incremental"], built["full"])  # type: ignore[arg-type]


def test_a_second_incremental_build_clears_the_revisions_of_periods_it_does_not_recompute(
    built_again: dict[str, object],
) -> None:
    incremental: State = built_again["incremental"]  # type: ignore[assignment]
    output, full_output = built_again["outputs"]  # type: ignore[misc]
    assert "incremental build (extracts of maternity)" in output
    assert "full build" in full_output
    assert built_again["revised_before"] > 0  # type: ignore[operator]
    cleared = incremental.query(
        """select count(*) from main.fct_indicator_revisions as revisions
        inner join main.dim_period as periods using (period_type, period_label)
        where periods.period_end < ? and revisions.last_revised_at is not null
            and not revisions.is_revised""",
        [recompute_from(output)],
    )
    assert cleared[0][0] > 0, "the corrections' revisions, in periods not recomputed, should be cleared"
    assert_equal_builds(incremental, built_again["full"])  # type: ignore[arg-type]


def assert_equal_builds(incremental: State, full: State) -> None:
    names = tables(full)
    assert tables(incremental) == names
    assert {"main.fct_indicator_values", "main.pub_indicator_values", "main.fct_indicator_spc"} <= set(names)
    for table in names:
        counts = (
            incremental.query(f"select count(*) from {table}")[0][0],
            full.query(f"select count(*) from {table}")[0][0],
        )
        assert counts[0] == counts[1], f"{table}: {counts[0]} rows incremental, {counts[1]} in full"
        assert counts[1] > 0 or table == "main.dim_lsoa_boundary", f"{table} is empty"
        assert differences(incremental.warehouse, full.warehouse, table) == [], table
    # the published copies too
    marts = [name for name in names if name.startswith(("main.fct_", "main.dim_", "main.pub_"))]
    published = duckdb.connect(str(incremental.published), read_only=True)
    try:
        assert [f"main.{name}" for (name,) in published.execute("show tables").fetchall()] == marts
        for table in marts:
            parquet = f"read_parquet('{incremental.published.parent / 'parquet' / table[5:]}/*.parquet')"
            assert published.execute(
                f"""select count(*) from (
                    (select * from {table} except all select * from {parquet})
                    union all (select * from {parquet} except all select * from {table})
                )"""
            ).fetchone() == (0,), parquet
    finally:
        published.close()
    for table in marts:
        assert differences(incremental.published, full.published, table) == [], f"published {table}"
