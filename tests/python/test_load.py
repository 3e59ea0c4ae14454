"""The loader against every bad-input class of shared/specs/extracts.md."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cc_warehouse import config
from cc_warehouse.ingest import discovery, load
from cc_warehouse.ingest.csvfile import ExtractError
from cc_warehouse.ingest.pseudo import KeyError_
from landing import (
    BAD_NHS,
    HV_HEADER,
    MATERNITY_HEADER,
    MATERNITY_ROWS,
    NCMP_HEADER,
    NCMP_ROWS,
    NHS,
    TEST_KEY,
    write_csv,
    write_landing,
)

ROOT = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, key: str | None = TEST_KEY) -> config.Settings:
    return config.Settings(
        landing_dir=tmp_path / "landing",
        warehouse=tmp_path / "state" / "w.duckdb",
        reports_dir=tmp_path / "reports",
        pseudo_key=key,
        target="duckdb",
    )


def run(tmp_path: Path, **kwargs) -> dict[str, int]:
    return load.run(settings(tmp_path, **kwargs), validate_with_ge=False)


def query(tmp_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "state" / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def pseudonym(number: str) -> str:
    return hmac.new(TEST_KEY.encode(), number.encode(), hashlib.sha256).hexdigest()


def maternity(tmp_path: Path, rows: list[str], extract: str = "20240715", **kwargs) -> Path:
    return write_csv(
        tmp_path / "landing" / "maternity" / f"maternity_{extract}.csv",
        kwargs.pop("header", MATERNITY_HEADER),
        rows,
        **kwargs,
    )


def snapshot(tmp_path: Path) -> dict[str, list[tuple]]:
    tables = ["maternity", "health_visiting", "ncmp", "load_log", "quarantine", "field_issues"]
    return {t: sorted(query(tmp_path, f"select * from raw.{t}"), key=repr) for t in tables}


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return write_landing(tmp_path / "landing")


def test_clean_landing_loads_every_row_with_pseudonyms(tmp_path, landing):
    totals = run(tmp_path)
    assert totals["files_loaded"] == 6
    assert totals["rows_quarantined"] == 0
    births = query(tmp_path, "select birth_id, mother_pseudo_id, baby_pseudo_id from raw.maternity")
    assert sorted(births) == [
        ("B1", pseudonym(NHS[0]), pseudonym(NHS[1])),
        ("B2", pseudonym(NHS[2]), pseudonym(NHS[3])),
    ]
    # The same number links across feeds.
    child = query(tmp_path, "select child_pseudo_id from raw.health_visiting where review_id = 'R1'")
    assert child == [(pseudonym(NHS[1]),)]
    assert query(tmp_path, "select count(*) from raw.field_issues") == [(0,)]
    dates = query(tmp_path, "select delivery_date, mother_birth_date from raw.maternity where birth_id='B2'")
    assert [tuple(str(d) for d in row) for row in dates] == [("2024-05-15", "2006-03-12")]


def test_load_log_reconciles_every_file(tmp_path, landing):
    maternity(
        tmp_path,
        [*MATERNITY_ROWS, ",D9,,,,,,2024-04-01,,,Y,,,", "B9,D9,,,,,,,,,Y,,,", "B10,D10,1,2"],
    )
    run(tmp_path)
    rows = query(
        tmp_path,
        """select l.file_name, l.rows_read, l.rows_accepted, l.rows_quarantined,
            (select count(*) from raw.quarantine q where q.file_name = l.file_name),
            (select count(*) from raw.maternity m where m.file_name = l.file_name)
              + (select count(*) from raw.health_visiting h where h.file_name = l.file_name)
              + (select count(*) from raw.ncmp n where n.file_name = l.file_name)
        from load_log l where l.feed in ('maternity', 'health_visiting', 'ncmp')""",
    )
    for _name, read, accepted, quarantined, in_quarantine, in_raw in rows:
        assert read == accepted + quarantined
        assert (quarantined, accepted) == (in_quarantine, in_raw)
    assert ("maternity/maternity_20240715.csv", 5, 2, 3) in [r[:4] for r in rows]


def test_rows_without_key_or_required_date_are_quarantined_with_reasons(tmp_path, landing):
    maternity(
        tmp_path,
        [
            *MATERNITY_ROWS,
            ",D3,,,,,A,2024-04-01,40,3000,Y,0,N,Y",
            "B4,,,,,,A,2024-04-01,40,3000,Y,0,N,Y",
            "B5,D5,,,,,A,,40,3000,Y,0,N,Y",
            "B6,D6,,,,,A,31/02/2024,40,3000,Y,0,N,Y",
            "B7,D7,,,,,A,2025-01-01,40,3000,Y,0,N,Y",
        ],
    )
    run(tmp_path)
    reasons = dict(query(tmp_path, "select source_row, reason from quarantine"))
    assert reasons == {
        3: "missing birth_id",
        4: "missing delivery_id",
        5: "missing delivery_date",
        6: "delivery_date: not a date (YYYY-MM-DD or DD/MM/YYYY)",
        7: "delivery_date: date after the extract date",
    }


def test_impossible_values_become_unknown_and_are_logged(tmp_path, landing):
    maternity(
        tmp_path,
        [
            f"B1,D1,{BAD_NHS},12345,1990-05-01,DC1 1AA,Q,2024-04-10,50,12000,Y,11,maybe,Y",
            "B2,D2,,,2030-01-01,DC1 1AB,A,2024-04-10,39.5,abc,Y,X,U,U",
            "B3,D3,,,2024-05-01,DC1 1AB,99,2024-04-10,40,9999,N,0,Y,N",
        ],
    )
    run(tmp_path)
    issues = set(query(tmp_path, "select record_key, field, raw_value, reason from field_issues"))
    assert issues == {
        ("B1", "mother_pseudo_id", None, "NHS number fails the Modulus 11 check"),
        ("B1", "baby_pseudo_id", None, "NHS number is not 10 digits"),
        ("B1", "mother_ethnic_category", "Q", "unknown code"),
        ("B1", "gestation_weeks", "50", "outside the possible range 20 to 46"),
        ("B1", "birth_weight_grams", "12000", "outside the possible range 200 to 7000"),
        ("B1", "delivery_method", "11", "unknown code"),
        ("B1", "smoking_at_delivery", "maybe", "unknown code"),
        ("B2", "mother_birth_date", "2030-01-01", "date after the extract date"),
        ("B2", "gestation_weeks", "39.5", "not a whole number"),
        ("B2", "birth_weight_grams", "abc", "not a number"),
        ("B3", "mother_birth_date", "2024-05-01", "after delivery_date"),
    }
    rows = query(
        tmp_path,
        """select birth_id, mother_pseudo_id, baby_pseudo_id, mother_ethnic_category,
            gestation_weeks, birth_weight_grams, delivery_method, smoking_at_delivery,
            breastfeeding_initiated, mother_birth_date
        from raw.maternity order by birth_id""",
    )
    assert rows[0] == ("B1", None, None, None, None, None, None, None, "Y", rows[0][-1])
    # Explicit unknown codes (X, U, 9999) are unknown without being an issue; 99 is kept.
    assert rows[1][3:] == ("A", None, None, None, None, None, None)
    assert rows[2][3:] == ("99", 40, None, "0", "Y", "N", None)


def test_two_digit_years_old_dates_contacts_before_birth_and_placeholder_nhs_numbers(tmp_path, landing):
    """Issue 24: `15/03/95` is not the year 95, nor any date before 1900 a real one; a visit
    before the child was born is impossible; an NHS number of one digit repeated passes the
    Modulus 11 check but is a placeholder that would link strangers. Each becomes unknown and
    is logged, or quarantines its row where the date is required."""
    maternity(
        tmp_path,
        [
            "B1,D1,,,15/03/95,DC1 1AA,A,2024-04-10,40,3000,Y,0,N,Y",
            "B2,D2,0000000000,9999999999,1899-12-31,DC1 1AB,A,2024-04-10,40,3000,Y,0,N,Y",
            "B3,D3,,,,DC1 1AB,A,01/05/24,40,3000,Y,0,N,Y",
            "B4,D4,,,1990-05-01,DC1 1AB,A,1895-04-10,40,3000,Y,0,N,Y",
        ],
    )
    write_csv(
        tmp_path / "landing" / "health_visiting" / "health_visiting_20240715.csv",
        HV_HEADER,
        [
            "R1,,2024-04-10,DC1 1AA,NBV,2024-04-24,2024-04-01,TOTAL",
            "R2,,2024-04-10,DC1 1AA,NBV,2024-04-24,2024-04-20,TOTAL",
        ],
    )
    run(tmp_path)
    assert dict(query(tmp_path, "select record_key, reason from quarantine")) == {
        "B3": "delivery_date: not a date (YYYY-MM-DD or DD/MM/YYYY)",
        "B4": "delivery_date: date before 1900",
    }
    issues = set(query(tmp_path, "select record_key, field, raw_value, reason from field_issues"))
    assert issues == {
        ("B1", "mother_birth_date", "15/03/95", "not a date (YYYY-MM-DD or DD/MM/YYYY)"),
        ("B2", "mother_pseudo_id", None, "placeholder NHS number (one digit repeated)"),
        ("B2", "baby_pseudo_id", None, "placeholder NHS number (one digit repeated)"),
        ("B2", "mother_birth_date", "1899-12-31", "date before 1900"),
        ("R1", "contact_date", "2024-04-01", "before child_birth_date"),
    }
    assert query(
        tmp_path,
        "select birth_id, mother_pseudo_id, baby_pseudo_id, mother_birth_date from raw.maternity order by 1",
    ) == [
        ("B1", None, None, None),
        ("B2", None, None, None),
    ]
    reviews = query(tmp_path, "select review_id, contact_date from raw.health_visiting order by 1")
    assert [(review, str(date) if date else None) for review, date in reviews] == [
        ("R1", None),
        ("R2", "2024-04-20"),
    ]


def test_a_record_id_twice_in_one_file_keeps_the_first_and_quarantines_the_other(tmp_path, landing):
    # issue 24: both rows were stored and the later one won silently
    maternity(
        tmp_path,
        [
            "B1,D1,,,,DC1 1AA,A,2024-04-10,40,3000,Y,0,N,Y",
            "B2,D2,,,,DC1 1AA,A,2024-04-11,40,3100,Y,0,N,Y",
            "B1,D1,,,,DC1 1AA,A,2024-04-10,40,2400,Y,0,Y,Y",
        ],
    )
    run(tmp_path)
    assert query(tmp_path, "select source_row, record_key, reason from quarantine") == [
        (3, "B1", "duplicate birth_id in the file (its first row is kept)")
    ]
    kept = query(tmp_path, "select birth_id, birth_weight_grams, source_row from raw.maternity order by 1")
    assert kept == [("B1", 3000, 1), ("B2", 3100, 2)]
    assert query(
        tmp_path, "select rows_read, rows_accepted, rows_quarantined from load_log where feed = 'maternity'"
    ) == [(3, 2, 1)]


def test_other_feeds_check_their_ranges_and_codes(tmp_path, landing):
    write_csv(
        tmp_path / "landing" / "ncmp" / "ncmp_20240715.csv",
        NCMP_HEADER,
        ["N1,,2023/2024,r,1,f,2019-01-15,DC1 1AA,a,2024-01-20,300,2,", "N2,,23/24,7,1,X,,,,,,,"],
    )
    write_csv(
        tmp_path / "landing" / "health_visiting" / "health_visiting_20240715.csv",
        HV_HEADER,
        ["R1,,2024-04-10,DC1 1AA,nbv,2024-04-24,2024-04-23,total", "R2,,,,12W,2024-04-24,,SOME"],
    )
    run(tmp_path)
    ncmp = query(
        tmp_path, "select ncmp_id, academic_year, school_year, sex, height_cm, weight_kg from raw.ncmp"
    )
    assert sorted(ncmp) == [("N1", "2023/24", "R", "F", None, None), ("N2", None, None, None, None, None)]
    reviews = query(tmp_path, "select review_id, review_type, feeding_status from raw.health_visiting")
    assert sorted(reviews) == [("R1", "NBV", "TOTAL"), ("R2", None, None)]
    fields = set(query(tmp_path, "select record_key, field from field_issues"))
    assert {
        ("N1", "height_cm"),
        ("N1", "weight_kg"),
        ("N2", "academic_year"),
        ("N2", "school_year"),
    } <= fields
    assert {("N2", "sex"), ("R2", "review_type"), ("R2", "feeding_status")} <= fields


@pytest.mark.parametrize(
    ("encoding", "eol", "prefix"),
    [("cp1252", "\r\n", b""), ("utf-8", "\r\n", b"\xef\xbb\xbf"), ("utf-8", "\n", b"")],
)
def test_encodings_and_line_endings(tmp_path, landing, encoding, eol, prefix):
    path = maternity(
        tmp_path,
        [*MATERNITY_ROWS, "B3,D3,,,,Café Row,A,2024-04-01,40,3000,Y,0,N,Y"],
        encoding=encoding,
        eol=eol,
    )
    path.write_bytes(prefix + path.read_bytes())
    run(tmp_path)
    assert query(tmp_path, "select mother_postcode from raw.maternity where birth_id = 'B3'") == [
        ("CAFÉ ROW",)
    ]
    expected = {"cp1252": "windows-1252", "utf-8": "utf-8-sig" if prefix else "utf-8"}[encoding]
    assert query(tmp_path, "select encoding from load_log where feed = 'maternity'") == [(expected,)]


def test_header_case_spaces_and_extra_columns(tmp_path, landing, capsys):
    header = " BIRTH_ID ," + MATERNITY_HEADER.split(",", 1)[1].upper() + ",Notes"
    maternity(tmp_path, [row + ",free text" for row in MATERNITY_ROWS], header=header)
    run(tmp_path)
    assert query(tmp_path, "select count(*) from raw.maternity") == [(2,)]
    assert query(tmp_path, "select ignored_columns from load_log where feed = 'maternity'") == [("Notes",)]
    assert "extra column(s) ignored: Notes" in capsys.readouterr().out


def test_unparseable_rows_are_quarantined_with_numbers_masked(tmp_path, landing):
    maternity(tmp_path, [MATERNITY_ROWS[0], "B2,D2,9434765919,only four", MATERNITY_ROWS[1]])
    run(tmp_path)
    assert query(tmp_path, "select source_row from raw.maternity order by 1") == [(1,), (3,)]
    ((reason, raw_record),) = query(tmp_path, "select reason, raw_record from quarantine")
    assert reason.startswith("row could not be parsed")
    assert "9434765919" not in raw_record and "##########" in raw_record


def test_stray_quote_spanning_lines_is_quarantined(tmp_path, landing):
    maternity(tmp_path, ['B1,"D1,,,,,,2024-04-01,40,3000,Y,0,N,Y', 'B2,D2",,,,,,2024-04-01,40,3000,Y,0,N,Y'])
    totals = run(tmp_path)
    assert totals["rows_quarantined"] == 1
    assert query(tmp_path, "select reason from quarantine") == [
        ("row runs over several lines (stray quote?)",)
    ]


def test_flagged_rows_keep_their_own_raw_text_after_unparseable_rows(tmp_path, landing):
    # The raw text of quarantined rows and of fields with an issue is taken from the parsed
    # file by row number: rows that could not be parsed must not shift it onto a neighbour.
    maternity(
        tmp_path,
        [
            "B1,D1,,,,,A,2024-04-01,40,3000,Y,0,N,Y",
            "B2,D2,only three",
            "B3,D3,,,,,Q,2024-04-01,40,3000,Y,0,N,Y",
            "B4,D4,cut short",
            ",D5,,,,,C,2024-04-01,41,3001,Y,0,N,Y",
            'B6,D6,,,,,A,2024-04-01,40,3000,Y,0,"N',
            'Y",Y',
            "B7,D7,,,,,A,2024-04-01,40,77,Y,0,N,Y",
        ],
    )
    run(tmp_path)
    counts = "select rows_read, rows_quarantined from load_log where feed = 'maternity'"
    assert query(tmp_path, counts) == [(7, 4)]
    issues = set(query(tmp_path, "select source_row, record_key, field, raw_value, reason from field_issues"))
    assert issues == {
        (3, "B3", "mother_ethnic_category", "Q", "unknown code"),
        (7, "B7", "birth_weight_grams", "77", "outside the possible range 200 to 7000"),
    }
    quarantined = dict(query(tmp_path, "select source_row, raw_record from quarantine where source_row = 5"))
    assert '"delivery_id":"D5"' in quarantined[5] and '"gestation_weeks":"41"' in quarantined[5]
    assert query(tmp_path, "select record_key, reason from quarantine where source_row = 6") == [
        ("B6", "row runs over several lines (stray quote?)")
    ]
    assert query(tmp_path, "select birth_id from raw.maternity order by 1") == [("B1",), ("B3",), ("B7",)]


def test_quarantine_never_holds_nhs_numbers_in_clear(tmp_path, landing):
    maternity(tmp_path, [f",D1,{NHS[0]},{BAD_NHS},,,A,2024-04-01,40,3000,Y,0,N,Y"])
    run(tmp_path)
    (raw_record,) = query(tmp_path, "select raw_record from quarantine")[0]
    assert NHS[0] not in raw_record and BAD_NHS not in raw_record
    assert pseudonym(NHS[0]) in raw_record


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda land: (land / "maternity" / "maternity_20240815.csv").write_bytes(b""), "is empty"),
        (
            lambda land: write_csv(
                land / "maternity" / "maternity_20240815.csv", "birth_id,delivery_id", ["a,b"]
            ),
            "missing required column(s) mother_nhs_number",
        ),
        (lambda land: (land / "maternity" / "births_2024.csv").write_text("x"), "bad file name"),
        (lambda land: (land / "maternity" / "maternity_20241340.csv").write_text("x"), "is not a date"),
        (lambda land: (land / "dental").mkdir(), "unknown feed folder"),
        (
            lambda land: (land / "ncmp" / "ncmp_20240815.csv").write_bytes(b"ncmp_id\n\x81\x8d\x90\n"),
            "unreadable encoding",
        ),
        (lambda land: (land / "reference" / "schools.csv").write_text("x"), "unknown reference file"),
        # issue 24: a name ending in a line break; two files for one extract date
        (lambda land: (land / "maternity" / "maternity_20240815.csv\n").write_text("x"), "bad file name"),
        (
            lambda land: write_csv(
                land / "maternity" / "MATERNITY_20240715.CSV", MATERNITY_HEADER, MATERNITY_ROWS
            ),
            "has the same extract date",
        ),
        # issue 24: UTF-16 (with and without its mark); a comma ending every row but not the header
        (
            lambda land: (land / "maternity" / "maternity_20240815.csv").write_bytes(
                "\n".join([MATERNITY_HEADER, *MATERNITY_ROWS]).encode("utf-16")
            ),
            "unreadable encoding (UTF-16",
        ),
        (
            lambda land: (land / "maternity" / "maternity_20240815.csv").write_bytes(
                "\n".join([MATERNITY_HEADER, *MATERNITY_ROWS]).encode("utf-16-le")
            ),
            "unreadable encoding (UTF-16",
        ),
        (
            lambda land: write_csv(
                land / "maternity" / "maternity_20240815.csv",
                MATERNITY_HEADER,
                [r + "," for r in MATERNITY_ROWS],
            ),
            "every row ends with an empty field the header does not have",
        ),
    ],
)
def test_a_bad_file_fails_the_whole_load_naming_it(tmp_path, landing, make_bad, message):
    make_bad(tmp_path / "landing")
    with pytest.raises((load.LoadError, ExtractError), match=None) as error:
        run(tmp_path)
    assert message in str(error.value)
    # Atomic: not even the good files of that run were committed.
    assert not (tmp_path / "state" / "w.duckdb").exists() or query(
        tmp_path, "select count(*) from information_schema.tables where table_schema = 'raw'"
    ) == [(0,)]


def test_an_empty_trailing_column_with_a_header_comma_too_is_accepted(tmp_path, landing):
    write_csv(
        tmp_path / "landing" / "maternity" / "maternity_20240715.csv",
        MATERNITY_HEADER + ",",
        [row + "," for row in MATERNITY_ROWS],
    )
    run(tmp_path)
    assert query(tmp_path, "select count(*) from quarantine") == [(0,)]
    assert query(tmp_path, "select count(*) from raw.maternity") == [(len(MATERNITY_ROWS),)]


def test_a_file_with_the_extract_date_of_one_loaded_before_is_refused(tmp_path, landing):
    run(tmp_path)
    before = snapshot(tmp_path)
    (tmp_path / "landing" / "maternity" / "maternity_20240715.csv").rename(
        tmp_path / "landing" / "maternity" / "Maternity_20240715.csv"
    )
    with pytest.raises(load.LoadError, match="maternity/maternity_20240715.csv has the same extract date"):
        run(tmp_path)
    assert snapshot(tmp_path) == before


def test_failed_run_leaves_earlier_loads_untouched(tmp_path, landing):
    run(tmp_path)
    before = snapshot(tmp_path)
    write_csv(tmp_path / "landing" / "ncmp" / "ncmp_20250715.csv", NCMP_HEADER, NCMP_ROWS)
    write_csv(tmp_path / "landing" / "maternity" / "maternity_20250715.csv", "birth_id", ["x"])
    with pytest.raises(ExtractError):
        run(tmp_path)
    assert snapshot(tmp_path) == before


def test_same_file_twice_changes_nothing_and_a_changed_file_is_refused(tmp_path, landing):
    run(tmp_path)
    before = snapshot(tmp_path)
    totals = run(tmp_path)
    assert totals["files_loaded"] == 0 and totals["files_skipped"] == 6
    assert snapshot(tmp_path) == before
    maternity(tmp_path, MATERNITY_ROWS[:1])
    with pytest.raises(load.LoadError, match="a different file was loaded under this name"):
        run(tmp_path)
    assert snapshot(tmp_path) == before


def test_resend_keeps_every_version_for_staging_to_choose(tmp_path, landing):
    run(tmp_path)
    corrected = MATERNITY_ROWS[0].replace(",3400,", ",3350,")
    maternity(tmp_path, [corrected], extract="20241015")
    run(tmp_path)
    versions = query(
        tmp_path,
        "select extract_date, birth_weight_grams from raw.maternity where birth_id = 'B1' order by 1",
    )
    assert [weight for _, weight in versions] == [3400, 3350]


def test_reference_rows_that_would_break_every_build_are_quarantined(tmp_path, landing):
    # issue 24: a decile of 11 and a blank centre code loaded, and then every build failed a
    # staging not_null test until a new reference file arrived
    reference = tmp_path / "landing" / "reference"
    (reference / "lsoa_imd.csv").write_text("lsoa_code,imd_decile\nE01999001,1\nE01999002,11\n")
    (reference / "lsoa_centre.csv").write_text(
        "lsoa_code,centre_code,centre_name,la_code,la_name\n"
        "E01999001,CC01,,E06999999,\n"
        "E01999002,,Hillside,E06999999,Demo City\n"
    )
    run(tmp_path)
    assert set(query(tmp_path, "select file_name, record_key, reason from quarantine")) == {
        ("reference/lsoa_imd.csv", "E01999002", "imd_decile: outside the possible range 1 to 10"),
        ("reference/lsoa_centre.csv", "E01999002", "missing centre_code"),
    }
    assert query(tmp_path, "select lsoa_code, imd_decile from raw.lsoa_imd") == [("E01999001", 1)]
    assert query(tmp_path, "select lsoa_code, centre_code, centre_name from raw.lsoa_centre") == [
        ("E01999001", "CC01", None)  # a blank name is allowed: staging names it by its code
    ]


def test_reference_files_are_full_replacements(tmp_path, landing):
    run(tmp_path)
    (tmp_path / "landing" / "reference" / "postcode_lsoa.csv").write_text(
        "Postcode , LSOA_code\ndc1 1aa,E01999002\nDC1 1AA,E01999001\n,E01999009\n"
    )
    run(tmp_path)
    assert query(tmp_path, "select postcode, lsoa_code from raw.postcode_lsoa") == [("DC1 1AA", "E01999002")]
    reasons = sorted(r for (r,) in query(tmp_path, "select reason from quarantine"))
    assert reasons == ["duplicate postcode in a reference file", "missing postcode"]


def test_boundaries_are_loaded_from_geojson(tmp_path, landing):
    (tmp_path / "landing" / "reference" / "lsoa_boundaries.geojson").write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"LSOA21CD": "E01999001"},'
        ' "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}}]}'
    )
    run(tmp_path)
    assert query(tmp_path, "select lsoa_code from raw.lsoa_boundaries") == [("E01999001",)]


BNG_FEATURE = (
    '{"type": "Feature", "properties": {"lsoa11cd": "E01999002", "lsoa11nm": "Hillside 001A"},'
    ' "geometry": {"type": "Polygon", "coordinates": [[[530000,180000],[530500,180000],'
    "[530500,180500],[530000,180000]]]}}"
)


def test_boundaries_in_british_national_grid_with_lower_case_names_load(tmp_path, landing):
    # issue 24: ONS files say lsoa11cd as often as LSOA11CD, and come in EPSG:27700 too
    (tmp_path / "landing" / "reference" / "lsoa_boundaries.geojson").write_text(
        '{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": '
        f'"urn:ogc:def:crs:EPSG::27700"}}}}, "features": [{BNG_FEATURE}]}}'
    )
    run(tmp_path)
    ((code, geometry),) = query(tmp_path, "select lsoa_code, geometry from raw.lsoa_boundaries")
    assert code == "E01999002" and "530500" in geometry


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (BNG_FEATURE, "a Feature, 0 features"),
        ("{}", "no GeoJSON type, 0 features"),
        (f"[{BNG_FEATURE}]", "no GeoJSON type"),
        ('{"type": "FeatureCollection", "features": []}', "a FeatureCollection, 0 features"),
    ],
)
def test_a_boundary_file_that_is_not_a_feature_collection_is_refused_and_the_old_one_kept(
    tmp_path, landing, content, found
):
    boundaries = tmp_path / "landing" / "reference" / "lsoa_boundaries.geojson"
    boundaries.write_text('{"type": "FeatureCollection", "features": [' + BNG_FEATURE + "]}")
    run(tmp_path)
    boundaries.write_text(content)
    with pytest.raises(load.LoadError, match="not a GeoJSON FeatureCollection with features") as error:
        run(tmp_path)
    assert found in str(error.value) and "reference/lsoa_boundaries.geojson" in str(error.value)
    assert query(tmp_path, "select lsoa_code from raw.lsoa_boundaries") == [("E01999002",)]


def test_keys(tmp_path, landing):
    with pytest.raises(KeyError_, match="CC_PSEUDO_KEY is not set"):
        run(tmp_path, key=None)
    with pytest.raises(KeyError_, match="public demo key"):
        run(tmp_path, key=config.DEMO_PSEUDO_KEY)
    run(tmp_path)
    with pytest.raises(load.LoadError, match="not the key this warehouse was built with"):
        run(tmp_path, key="another-key-0123456789")
    # The demo marker makes the demo key acceptable, and the only key allowed when unset
    # (the demo's NHS numbers all start with 9: test_reliability_identifiers.py).
    demo = tmp_path / "demo"
    write_landing(demo / "landing")
    for path in (demo / "landing").rglob("*.csv"):
        path.write_text(path.read_text().replace(NHS[2], NHS[0]))
    (demo / "landing" / config.DEMO_MARKER).write_text(config.DEMO_MARKER_FIRST_LINE + "\n")
    assert run(demo, key=None)["files_loaded"] == 6


def test_symlink_outside_the_landing_folder_is_refused(tmp_path, landing):
    outside = write_csv(tmp_path / "elsewhere.csv", MATERNITY_HEADER, MATERNITY_ROWS)
    (tmp_path / "landing" / "maternity" / "maternity_20240815.csv").symlink_to(outside)
    with pytest.raises(load.LoadError, match="points outside the landing folder"):
        run(tmp_path)


def test_killed_load_leaves_the_warehouse_as_it_was(tmp_path, landing):
    run(tmp_path)
    before = snapshot(tmp_path)
    for month in range(8, 13):
        maternity(tmp_path, MATERNITY_ROWS, extract=f"2024{month:02d}15")
    env = {
        **os.environ,
        "CC_LANDING_DIR": str(tmp_path / "landing"),
        "CC_WAREHOUSE": str(tmp_path / "state" / "w.duckdb"),
        "CC_PSEUDO_KEY": TEST_KEY,
        "CC_FAULT_KILL_AFTER_FILES": "3",
        "CC_DBT_PROJECT_DIR": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cc_warehouse", "load", "--no-validate"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert snapshot(tmp_path) == before
    env.pop("CC_FAULT_KILL_AFTER_FILES")
    subprocess.run([sys.executable, "-m", "cc_warehouse", "load", "--no-validate"], env=env, check=True)
    assert query(tmp_path, "select count(*) from raw.maternity") == [(12,)]


def test_great_expectations_validates_each_file_and_writes_data_docs(tmp_path, landing):
    load.run(settings(tmp_path), validate_with_ge=True)
    assert query(tmp_path, "select count(*), bool_and(ge_success) from load_log") == [(6, True)]
    assert (tmp_path / "reports" / "data_docs" / "index.html").is_file()


def test_files_left_unvalidated_are_validated_by_the_next_load(tmp_path, landing):
    # A load stopped after its commit but before Great Expectations (or run with
    # --no-validate) leaves ge_success empty; the next load validates those files too,
    # even when it has nothing new to load.
    load.run(settings(tmp_path), validate_with_ge=False)
    assert query(tmp_path, "select count(*), count(ge_success) from load_log") == [(6, 0)]
    totals = load.run(settings(tmp_path), validate_with_ge=True)
    assert totals["files_loaded"] == 0
    assert query(tmp_path, "select count(*), bool_and(ge_success) from load_log") == [(6, True)]


def test_each_file_s_line_gives_its_rows_seconds_rate_and_stages(tmp_path, landing, capsys):
    """The progress of a long load: a line per file with its rows, its seconds, its rate and
    the seconds of each stage (reading and parsing, checking, writing)."""
    maternity(tmp_path, MATERNITY_ROWS)
    run(tmp_path)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("maternity/")]
    number = r"[0-9][0-9,.]*"
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"maternity/\S+\.csv: 2 read, 2 accepted, 0 quarantined, \d+ field issues "
        rf"\({number} s, {number} rows/s, utf-8; waited {number} s for "
        rf"read and parse {number} s, check {number} s, write {number} s\)",
        lines[0],
    ), lines[0]


def test_duckdb_settings_have_defaults_for_this_machine_and_can_be_overridden(tmp_path, monkeypatch):
    def settings_of(con: duckdb.DuckDBPyConnection) -> tuple:
        names = ("threads", "memory_limit", "preserve_insertion_order", "temp_directory")
        return tuple(con.execute(f"select current_setting('{name}')").fetchone()[0] for name in names)

    for name in (
        "CC_DUCKDB_THREADS",
        "CC_DUCKDB_MEMORY_LIMIT",
        "CC_DUCKDB_PRESERVE_ORDER",
        "CC_DUCKDB_TEMP_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    con = load.connect(tmp_path / "default.duckdb")
    # two threads, the loader's 3GB (shown in GiB), no insertion order, spilling beside the file
    assert settings_of(con) == (2, "2.7 GiB", False, f"{tmp_path / 'default.duckdb'}.tmp")
    con.close()

    monkeypatch.setenv("CC_DUCKDB_THREADS", "1")
    monkeypatch.setenv("CC_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CC_DUCKDB_PRESERVE_ORDER", "true")
    monkeypatch.setenv("CC_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    con = load.connect(tmp_path / "overridden.duckdb")
    assert settings_of(con) == (1, "953.6 MiB", True, str(tmp_path / "spill"))
    con.close()


# ---------------------------------------------------------------- files still being copied, withdrawn


def test_a_file_that_changes_while_it_is_read_is_refused(tmp_path, landing, monkeypatch):
    """Issue 24: a file still being copied was committed half-written, and the whole file
    was then refused forever as a different file under a loaded name."""
    reading = discovery._read_bytes

    def read_while_copying(path: Path) -> bytes:
        data = reading(path)
        if path.name.startswith("maternity"):
            with path.open("ab") as still_copying:
                still_copying.write(b"B9,D9,,,,,A,2024-04-10,40,3000,Y,0,N,Y\n")
        return data

    monkeypatch.setattr(discovery, "_read_bytes", read_while_copying)
    with pytest.raises(load.LoadError, match="changed while it was read"):
        run(tmp_path)
    # nothing committed (the same check as for any bad file)
    assert not (tmp_path / "state" / "w.duckdb").exists() or query(
        tmp_path, "select count(*) from information_schema.tables where table_schema = 'raw'"
    ) == [(0,)]
    monkeypatch.setattr(discovery, "_read_bytes", reading)
    run(tmp_path)  # the copy has finished: it loads, all of it
    assert query(tmp_path, "select count(*) from raw.maternity") == [(len(MATERNITY_ROWS) + 1,)]


def test_a_file_whose_last_line_is_cut_short_is_refused(tmp_path, landing):
    path = tmp_path / "landing" / "maternity" / "maternity_20240715.csv"
    path.write_bytes(path.read_bytes() + b"B9,D9,,,,,A,2024-")  # the copy stopped here
    with pytest.raises(ExtractError, match="the last line is cut short"):
        run(tmp_path)


def test_a_wrong_file_is_withdrawn_and_the_right_one_loads_under_its_name(tmp_path, landing):
    run(tmp_path)
    path = tmp_path / "landing" / "maternity" / "maternity_20240715.csv"
    others = snapshot(tmp_path)
    # the wrong file was sent: a quarantined row, a field issue
    write_csv(path, MATERNITY_HEADER, [*MATERNITY_ROWS, ",D3,,,,,A,2024-04-01,40,3000,Y,0,N,Y"])
    with pytest.raises(load.LoadError, match="a different file was loaded under this name"):
        run(tmp_path)
    removed = load.withdraw(settings(tmp_path), "maternity/maternity_20240715.csv")
    assert removed == {"maternity": len(MATERNITY_ROWS), "quarantine": 0, "field_issues": 0, "load_log": 1}
    assert query(tmp_path, "select count(*) from raw.maternity") == [(0,)]
    run(tmp_path)  # the corrected file, under the same name
    assert query(tmp_path, "select count(*) from raw.maternity") == [(len(MATERNITY_ROWS),)]
    assert query(tmp_path, "select count(*) from quarantine where file_name like 'maternity/%'") == [(1,)]
    after = snapshot(tmp_path)
    assert all(after[table] == others[table] for table in ("health_visiting", "ncmp"))  # untouched
    with pytest.raises(load.LoadError, match="no file of that name was loaded"):
        load.withdraw(settings(tmp_path), "maternity/maternity_20990101.csv")
    # a reference file too: its rows are in its own table
    assert load.withdraw(settings(tmp_path), "reference/lsoa_imd.csv")["lsoa_imd"] == 2
