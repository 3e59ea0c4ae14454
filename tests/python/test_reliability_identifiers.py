"""Identifiers and disclosure: nothing identifiable leaves, and public figures are controlled.

The scans look for the values actually sent, not for patterns: every NHS number, postcode
and date of birth in the session city's landing files, and the pseudonymisation key itself,
searched for in every table of every schema, every published file, every report and every
log the pipeline wrote (the loader's and dbt's output, dbt's logs and target folder, Great
Expectations' store and Data Docs).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from cc_warehouse import config
from cc_warehouse.build import disclosure_audit
from cc_warehouse.ingest import load
from cc_warehouse.ingest.pseudo import KeyError_, make_key
from landing import NHS, TEST_KEY, write_landing
from pipeline import State
from reliability import SECRET_KEY, fingerprint, landing_rows, no_traceback

NHS_COLUMNS = ("mother_nhs_number", "baby_nhs_number", "child_nhs_number")
BIRTH_DATE_COLUMNS = ("mother_birth_date", "child_birth_date", "birth_date")
EVENT_DATE_COLUMNS = ("delivery_date", "due_date", "contact_date", "measurement_date")
POSTCODE_COLUMNS = ("mother_postcode", "child_postcode")
NO_FIXED_ABODE = "ZZ993VZ"  # the NHS pseudo-postcode: a code, not an address
POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][0-9A-Z]?) ?([0-9][A-Z]{2})\b")
DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})\b")
TEN_DIGITS = re.compile(r"(?<!\d)\d{10}(?!\d)")


def _iso(text: str) -> str | None:
    for form in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), form).date().isoformat()
        except ValueError:
            continue
    return None


@pytest.fixture(scope="module")
def sent(session_city) -> dict[str, set[str]]:
    """The identifiers in the landing files."""
    rows = [row for feed in landing_rows(session_city.work.landing).values() for row in feed]
    nhs = {re.sub(r"[\s-]", "", row[c]) for row in rows for c in NHS_COLUMNS if row.get(c)}
    postcodes = {re.sub(r"\s", "", row[c]).upper() for row in rows for c in POSTCODE_COLUMNS if row.get(c)}
    births = {_iso(row[c]) for row in rows for c in BIRTH_DATE_COLUMNS if row.get(c)}
    events = {_iso(row[c]) for row in rows for c in EVENT_DATE_COLUMNS if row.get(c)}
    found = {
        "nhs": {n for n in nhs if re.fullmatch(r"\d{10}", n)},
        "postcode": {p for p in postcodes if POSTCODE.fullmatch(p[:-3] + " " + p[-3:])} - {NO_FIXED_ABODE},
        # A date that is also an event date (a birth is a delivery) tells nothing by itself.
        "birth_date": {d for d in births - events if d},
    }
    assert len(found["nhs"]) > 1000 and len(found["postcode"]) > 100 and len(found["birth_date"]) > 500
    return found


def find_in_text(text: str, sent: dict[str, set[str]], kinds: tuple[str, ...]) -> set[str]:
    hits: set[str] = set()
    if "nhs" in kinds:
        hits |= {f"nhs {n}" for n in TEN_DIGITS.findall(text) if n in sent["nhs"]}
    if "postcode" in kinds:
        upper = text.upper()
        hits |= {f"postcode {a}{b}" for a, b in POSTCODE.findall(upper) if a + b in sent["postcode"]}
    if "birth_date" in kinds:
        hits |= {f"birth date {d}" for d in DATE.findall(text) if _iso(d) in sent["birth_date"]}
    if "key" in kinds:
        secrets = (SECRET_KEY, make_key(SECRET_KEY).ipad.hex(), make_key(SECRET_KEY).opad.hex())
        hits |= {"the pseudonymisation key" for secret in secrets if secret in text}
    return hits


ALL = ("nhs", "postcode", "birth_date", "key")


LOADER_VIEWS = {"load_runs", "load_log", "quarantine", "field_issues"}  # main.<name>: views of raw.<name>


def upstream_of_marts(schema: str, table: str) -> bool:
    """Where postcodes and dates of birth may be: the raw zone, staging, staging's test failures."""
    name = table.lower()
    return (
        schema == "raw"
        or (schema == "main" and name in LOADER_VIEWS)
        or name.startswith("stg_")
        or (schema == "audit" and ("stg_" in name or name.startswith("source_")))
    )


def scan_database(
    con: duckdb.DuckDBPyConnection, sent: dict[str, set[str]], where: str
) -> dict[str, set[str]]:
    leaks: dict[str, set[str]] = {}
    relations = con.execute(
        """select table_schema, table_name from information_schema.tables
        where table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"""
    ).fetchall()
    assert relations, where
    for schema, table in relations:
        kinds = ("nhs", "key") if upstream_of_marts(schema, table) else ALL
        columns = con.execute(
            """select column_name, data_type from information_schema.columns
            where table_schema = ? and table_name = ?""",
            [schema, table],
        ).fetchall()
        for column, kind in columns:
            values = con.execute(
                f'select distinct cast("{column}" as varchar) from "{schema}"."{table}"'
            ).fetchall()
            text = "\n".join(v for (v,) in values if v is not None)
            if kind == "DATE" and "birth_date" in kinds:
                hits = {f"birth date {v}" for (v,) in values if v in sent["birth_date"]}
            else:
                hits = find_in_text(text, sent, kinds)
            if hits:
                leaks[f"{where} {schema}.{table}.{column}"] = hits
    return leaks


def test_no_identifier_or_key_in_any_table_of_the_warehouse_or_the_published_copy(session_city, sent):
    state = State(session_city.pristine)
    leaks = {}
    for database in (state.warehouse, state.published):
        con = duckdb.connect(str(database), read_only=True)
        try:
            leaks |= scan_database(con, sent, database.name)
        finally:
            con.close()
    # The raw zone holds postcodes and birth dates (allowed there): the scan does see them.
    con = duckdb.connect(str(state.warehouse), read_only=True)
    assert find_in_text(
        "\n".join(v for (v,) in con.execute("select mother_postcode from raw.maternity").fetchall() if v),
        sent,
        ("postcode",),
    )
    schemas = {
        s for (s,) in con.execute("select distinct table_schema from information_schema.tables").fetchall()
    }
    con.close()
    assert {"raw", "main", "audit", "disclosure_audit"} <= schemas
    assert leaks == {}


def test_no_identifier_in_the_parquet_files(session_city, sent):
    parquet = sorted((State(session_city.pristine).published.parent / "parquet").glob("*/*.parquet"))
    assert len(parquet) >= 10
    con = duckdb.connect()
    leaks = {}
    for path in parquet:
        con.execute(f"create or replace view published as select * from read_parquet('{path}')")
        for column, kind, *_ in con.execute("describe published").fetchall():
            values = con.execute(f'select distinct cast("{column}" as varchar) from published').fetchall()
            hits = find_in_text("\n".join(v for (v,) in values if v is not None), sent, ALL)
            if kind == "DATE":
                hits |= {f"birth date {v}" for (v,) in values if v in sent["birth_date"]}
            if hits:
                leaks[f"{path.name}.{column}"] = hits
    assert leaks == {}


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def test_no_identifier_or_key_in_any_report_log_or_file_the_pipeline_wrote(session_city, sent):
    pristine = State(session_city.pristine)
    folders = {
        # Reports and everything in the state folder (Great Expectations' store, the lock,
        # the published files' bytes): every kind of identifier.
        "reports": (pristine.reports, ALL),
        "state": (pristine.warehouse.parent, ALL),
        # What the commands printed: the loader's lines, dbt's output, the warnings table.
        "outputs": (session_city.outputs, ALL),
        # dbt's logs and target folder hold SQL and test fixtures, not data rows (fixture
        # postcodes and dates could match the demo's): numbers and the key.
        "dbt logs": (session_city.root / "logs", ("nhs", "key")),
        "dbt target": (session_city.root / "target", ("nhs", "key")),
    }
    leaks = {}
    counts = {}
    for label, (folder, kinds) in folders.items():
        files = _files(folder)
        counts[label] = len(files)
        for path in files:
            text = path.read_bytes().decode("utf-8", "replace")
            binary = path.suffix in (".duckdb", ".parquet", ".wal") or path.name.endswith(".msgpack")
            hits = find_in_text(text, sent, ("key",) if binary else kinds)
            if hits:
                leaks[str(path.relative_to(session_city.root))] = hits
    assert counts["reports"] > 5 and counts["outputs"] >= 4 and counts["dbt logs"] >= 1
    assert any("great_expectations" in str(p) for p in _files(pristine.warehouse.parent))
    assert (pristine.reports / "data_quality" / "index.html").is_file()
    assert (pristine.reports / "data_docs" / "index.html").is_file()
    assert leaks == {}


def test_the_scan_finds_an_identifier_where_there_is_one(session_city, sent):
    """The scan itself works: a planted number, postcode, birth date and key are all found."""
    number = sorted(sent["nhs"])[0]
    postcode = sorted(sent["postcode"])[0]
    birth = sorted(sent["birth_date"])[0]
    text = f"x {number} y {postcode[:-3]} {postcode[-3:]} z {birth} {SECRET_KEY}"
    assert len(find_in_text(text, sent, ALL)) == 4
    con = duckdb.connect()
    con.execute("create table main.fct_leak as select ? as note, cast(? as date) as d", [number, birth])
    assert set(scan_database(con, sent, "planted")) == {
        "planted main.fct_leak.note",
        "planted main.fct_leak.d",
    }


# ---------------------------------------------------------------- the key and the demo


def settings_for(root: Path, key: str | None) -> config.Settings:
    return config.Settings(root / "landing", root / "state" / "w.duckdb", root / "reports", key, "duckdb")


def test_real_extracts_without_a_key_are_refused(session_city, tmp_path):
    write_landing(tmp_path / "landing")
    result = session_city.python(
        "cc_warehouse",
        "load",
        "--no-validate",
        check=False,
        CC_PSEUDO_KEY="",
        CC_LANDING_DIR=str(tmp_path / "landing"),
        CC_WAREHOUSE=str(tmp_path / "state" / "w.duckdb"),
    )
    assert result.returncode == 1
    assert "CC_PSEUDO_KEY is not set" in result.stderr
    no_traceback(result)
    assert not (tmp_path / "state" / "w.duckdb").exists()


def test_the_demo_marker_is_the_generators(session_city):
    marker = (session_city.work.landing / config.DEMO_MARKER).read_text(encoding="utf-8")
    assert marker.splitlines()[0] == config.DEMO_MARKER_FIRST_LINE


@pytest.mark.parametrize("key", [None, config.DEMO_PSEUDO_KEY])
def test_a_copied_demo_marker_does_not_make_real_extracts_demo(session_city, tmp_path, key):
    """Real extracts hold NHS numbers from the issued ranges (not starting with 9): a folder
    carrying a copy of the generator's marker is still refused the public demo key."""
    landing = write_landing(tmp_path / "landing")
    shutil.copy(session_city.work.landing / config.DEMO_MARKER, landing / config.DEMO_MARKER)
    assert any(not number.startswith("9") for number in NHS)
    with pytest.raises(load.LoadError, match="ranges issued to patients") as error:
        load.run(settings_for(tmp_path, key), validate_with_ge=False)
    assert not any(number in str(error.value) for number in NHS)
    con = duckdb.connect(str(tmp_path / "state" / "w.duckdb"), read_only=True)
    committed = con.execute("select count(*) from information_schema.tables where table_schema = 'raw'")
    assert committed.fetchone() == (0,)  # the run's one transaction was rolled back
    con.close()


def test_a_marker_not_written_by_the_generator_is_refused(tmp_path):
    landing = write_landing(tmp_path / "landing")
    (landing / config.DEMO_MARKER).write_text("synthetic, honest\n")
    with pytest.raises(load.LoadError, match="not written by the demo generator"):
        load.run(settings_for(tmp_path, None), validate_with_ge=False)
    # With the organisation's key, the folder is simply real data: the key decides.
    with pytest.raises(load.LoadError, match="not written by the demo generator"):
        load.run(settings_for(tmp_path, config.DEMO_PSEUDO_KEY), validate_with_ge=False)


def test_a_key_shorter_than_16_characters_is_refused_for_real_data(tmp_path):
    write_landing(tmp_path / "landing")
    with pytest.raises(KeyError_, match="too short"):
        load.run(settings_for(tmp_path, "short-key"), validate_with_ge=False)
    assert load.run(settings_for(tmp_path, TEST_KEY), validate_with_ge=False)["files_loaded"] == 6


# ---------------------------------------------------------------- disclosure control, end to end


GROUP_KEYS = {
    # the centres of a local authority add up to it
    "centres": "indicator_id, la_code, period_type, period_label, breakdown",
    # the categories of a breakdown add up to the area's 'all' row
    "breakdowns": "indicator_id, area_type, area_code, period_type, period_label, breakdown_group",
}


def test_every_public_figure_passes_the_disclosure_rules(session_city):
    state = State(session_city.pristine)
    con = duckdb.connect(str(state.published), read_only=True)
    try:
        columns = {
            c for (c,) in con.execute("select column_name from (describe pub_indicator_values)").fetchall()
        }
        # Rounded counts only: nothing exact leaves.
        assert {"numerator", "denominator", "value_pct"} <= columns
        # nor why a count is hidden: "small" would tell an attacker it is 1 to 7
        assert not columns & {"units", "lower_998", "upper_998", "exact_count", "suppression_reason"}
        con.execute("attach ? as live (read_only)", [str(state.warehouse)])
        rows = con.execute(
            """select p.numerator, p.denominator, p.value_pct, p.lower_95, p.upper_95, p.coverage_pct,
                p.numerator_suppressed, p.denominator_suppressed, p.is_suppressed,
                v.numerator, v.denominator
            from pub_indicator_values p
            join live.main.fct_indicator_values v
              using (indicator_id, area_type, area_code, period_type, period_label, breakdown)"""
        ).fetchall()
        ((public_rows,),) = con.execute("select count(*) from pub_indicator_values").fetchall()
        assert len(rows) == public_rows > 1000
        small = 0
        for (
            shown_num,
            shown_den,
            value,
            low,
            high,
            coverage,
            num_sup,
            den_sup,
            sup,
            exact_num,
            exact_den,
        ) in rows:
            for shown in (shown_num, shown_den):
                assert shown is None or shown % 5 == 0, "shown counts are rounded to 5"
            for figure in (value, low, high, coverage):
                assert figure is None or figure == int(figure), "percentages are whole numbers"
            if 1 <= exact_den <= 7:
                small += 1
                assert den_sup and num_sup and sup
            if 1 <= exact_num <= 7:
                small += 1
                assert num_sup and sup
            if num_sup:
                assert shown_num is None
            if den_sup:
                assert shown_den is None
            if sup:
                assert value is None and low is None and high is None
            else:  # computed from the shown counts, not the exact ones
                assert abs(float(value) - 100 * shown_num / shown_den) <= 0.5 + 1e-9
                assert low <= value <= high
        assert small > 100, "the city has small numbers for the rules to act on"
        # Secondary suppression: no group has exactly one hidden count while its total shows.
        for relation, key in GROUP_KEYS.items():
            members = "area_type = 'centre'" if relation == "centres" else "breakdown != 'all'"
            margin = "area_type = 'la'" if relation == "centres" else "breakdown = 'all'"
            join = (
                "using (indicator_id, period_type, period_label, breakdown) where m.area_code = g.la_code"
                if relation == "centres"
                else "using (indicator_id, area_type, area_code, period_type, period_label) where true"
            )
            for count in ("numerator", "denominator"):
                exposed = con.execute(
                    f"""with groups as (
                        select {key}, count(*) filter (where {count}_suppressed) as hidden
                        from pub_indicator_values where {members} group by all)
                    select count(*) from groups g
                    join (select * from pub_indicator_values where {margin}) m {join}
                      and g.hidden = 1 and not m.{count}_suppressed"""
                ).fetchone()[0]
                assert exposed == 0, (relation, count)
    finally:
        con.close()


def test_the_public_csv_follows_the_same_rules(session_city):
    """The public export shows counts as `*` or multiples of 5, `*` wherever the exact count
    is 1 to 7, and no cell a spreadsheet would run as a formula."""
    state = State(session_city.pristine)
    public = sorted((state.reports / "public").glob("*.csv"))
    if not public:
        pytest.skip("no public CSV export was written (cc_warehouse.newsletter); the mart is checked above")
    con = duckdb.connect(str(state.warehouse), read_only=True)
    exact = {
        tuple(key): (numerator, denominator)
        for *key, numerator, denominator in con.execute(
            """select indicator_id, area_type, area_code, period_type, period_label, breakdown,
                numerator, denominator from fct_indicator_values"""
        ).fetchall()
    }
    con.close()
    checked = 0
    for path in public:
        for row in csv.DictReader(path.open(encoding="utf-8")):
            for value in row.values():
                assert not re.match(r"[=+@\t\r-]", value or "") or re.fullmatch(r"-?[0-9.]+", value), value
            key = tuple(
                row.get(c)
                for c in (
                    "indicator_id",
                    "area_type",
                    "area_code",
                    "period_type",
                    "period_label",
                    "breakdown",
                )
            )
            if key not in exact:
                continue
            for column, count in zip(("numerator", "denominator"), exact[key], strict=True):
                shown = row[column]
                assert shown == "*" or int(shown) % 5 == 0, (path.name, key, column, shown)
                if 1 <= count <= 7:
                    assert shown == "*", (path.name, key, column, count)
            checked += 1
    assert checked > 1000


def test_the_published_figures_pass_the_disclosure_audit_with_what_it_hid(session_city):
    """This city is one where the model's rules leave hidden counts that could be narrowed
    down (test_disclosure_audit has the pattern): the transform's audit hid more counts and
    built the public marts again, so what is published passes, and each count it hid is
    hidden in every row that publishes it (a financial year and its rolling year alike)."""
    state = State(session_city.pristine)
    con = duckdb.connect(str(state.published), read_only=True)
    try:
        result = disclosure_audit.audit(con)
    finally:
        con.close()
    assert result.passed, disclosure_audit.report(result)
    hid = state.query("select count(*), count(distinct protects) from raw.audit_suppressions")[0]
    assert hid[0] >= 1, "the rules alone protected this city: choose a city where they do not"
    still_shown = state.query(
        """select count(*)
        from raw.audit_suppressions as hidden
        inner join pub_indicator_values as published
            on hidden.indicator_id = published.indicator_id
            and hidden.area_code = published.area_code
            and hidden.breakdown = published.breakdown
            and hidden.period_start = published.period_start
            and hidden.period_end = published.period_end
        where (hidden.count_kind = 'numerator' and published.numerator is not null)
            or (hidden.count_kind = 'denominator' and published.denominator is not null)"""
    )[0][0]
    assert still_shown == 0


def test_a_disclosure_audit_that_still_fails_stops_publishing(session_city):
    """Without the counts the audit hid, and not allowed to hide more (CC_AUDIT_ROUNDS=0),
    the transform fails, naming what could be narrowed down, and publishes nothing."""
    state = session_city.restore()
    con = duckdb.connect(str(state.warehouse))
    try:
        con.execute("delete from raw.audit_suppressions")
    finally:
        con.close()
    before = fingerprint(state)
    result = session_city.transform("--no-freshness", "--force", check=False, CC_AUDIT_ROUNDS="0")
    assert result.returncode == 1
    assert "the disclosure audit failed, so nothing is published" in result.stderr
    assert re.search(r"could only be \d+ to \d+", result.stderr), result.stderr[-2000:]
    no_traceback(result)
    assert fingerprint(state) == before
