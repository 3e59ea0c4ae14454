"""The dbt staging layer, built against a tiny hand-made raw zone.

Self-contained: it writes its own `raw` schema (docs/raw_zone.md) into a DuckDB file in a
temporary folder, runs `dbt build --select +staging` there (dbt's target/ and logs/ also in
the temporary folder, so it never clashes with a developer's build) and checks what staging
made of the corrections, multiple births and messy postcodes.

Run the raw zone alone for development:
    .venv/bin/python tests/python/test_dbt_staging.py /tmp/stg_dev/w.duckdb
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from cc_warehouse.build import disclosure_audit

PROJECT_DIR = Path(__file__).resolve().parents[2]

META = "file_name varchar, extract_date date, source_row bigint, loaded_at timestamp"

RAW_ZONE_SQL = f"""
create schema if not exists raw;

create table raw.maternity (
    birth_id varchar not null, delivery_id varchar not null,
    mother_pseudo_id varchar, baby_pseudo_id varchar, mother_birth_date date,
    mother_postcode varchar, mother_ethnic_category varchar, delivery_date date not null,
    gestation_weeks integer, birth_weight_grams integer, live_birth varchar,
    delivery_method varchar, smoking_at_delivery varchar, breastfeeding_initiated varchar,
    {META}
);

-- B001 arrives in two extracts; the later one corrects the weight and postcode spacing.
-- D002 is twins, one still birth. D003's mother was born on 29 February.
-- B005 moved from delivery D004 to D005 in the later extract (a corrected link).
insert into raw.maternity values
    ('B001', 'D001', sha256('m1'), sha256('b1'), '1995-06-15', 'so14 0ab', 'A',
     '2023-12-10', 39, 3400, 'Y', '0', 'N', 'Y',
     'maternity_20240131.csv', '2024-01-31', 1, '2024-02-01 09:00:00'),
    ('B001', 'D001', sha256('m1'), sha256('b1'), '1995-06-15', 'SO14  0AB', 'A',
     '2023-12-10', 39, 3450, 'Y', '0', 'N', 'Y',
     'maternity_20240430.csv', '2024-04-30', 3, '2024-05-01 09:00:00'),
    ('B002', 'D002', sha256('m2'), sha256('b2'), '2006-03-01', 'SO15 1XY', '99',
     '2024-02-01', 35, 2100, 'Y', '8', 'Y', null,
     'maternity_20240430.csv', '2024-04-30', 1, '2024-05-01 09:00:00'),
    ('B003', 'D002', sha256('m2'), null, '2006-03-01', 'SO15 1XY', '99',
     '2024-02-01', 35, 1800, 'N', '8', 'Y', null,
     'maternity_20240430.csv', '2024-04-30', 2, '2024-05-01 09:00:00'),
    ('B004', 'D003', null, sha256('b4'), '2004-02-29', null, null,
     '2024-02-28', null, null, null, null, null, null,
     'maternity_20240430.csv', '2024-04-30', 4, '2024-05-01 09:00:00'),
    ('B005', 'D004', sha256('m5'), sha256('b5'), '1990-01-01', 'so16 9zz', 'N',
     '2024-01-05', 41, 3900, 'Y', '7', 'N', 'N',
     'maternity_20240131.csv', '2024-01-31', 2, '2024-02-01 09:00:00'),
    ('B005', 'D005', sha256('m5'), sha256('b5'), '1990-01-01', 'so16 9zz', 'N',
     '2024-01-05', 41, 3900, 'Y', '7', 'N', 'N',
     'maternity_20240430.csv', '2024-04-30', 5, '2024-05-01 09:00:00');

create table raw.health_visiting (
    review_id varchar not null, child_pseudo_id varchar, child_birth_date date,
    child_postcode varchar, review_type varchar, due_date date not null, contact_date date,
    feeding_status varchar,
    {META}
);

-- R001 was not yet done in January's extract and recorded by April's.
insert into raw.health_visiting values
    ('R001', sha256('b1'), '2023-12-10', 'so14 0ab', 'NBV', '2023-12-24', null, null,
     'health_visiting_20240131.csv', '2024-01-31', 1, '2024-02-01 09:00:00'),
    ('R001', sha256('b1'), '2023-12-10', 'so14 0ab', 'NBV', '2023-12-24', '2023-12-20',
     'TOTAL', 'health_visiting_20240430.csv', '2024-04-30', 1, '2024-05-01 09:00:00'),
    ('R002', sha256('b1'), '2023-12-10', 'SO140AB', '6-8W', '2024-02-04', null, null,
     'health_visiting_20240430.csv', '2024-04-30', 2, '2024-05-01 09:00:00');

create table raw.ncmp (
    ncmp_id varchar not null, child_pseudo_id varchar, academic_year varchar,
    school_year varchar, school_code varchar, sex varchar, birth_date date,
    child_postcode varchar, ethnic_category varchar, measurement_date date,
    height_cm double, weight_kg double, not_measured_reason varchar,
    {META}
);

-- N002 has no academic year: staging derives it from the measurement date.
insert into raw.ncmp values
    ('N001', sha256('c1'), '2023/24', 'R', '116000', 'F', '2019-01-20', 'SO14 0AB', 'A',
     '2024-03-12', 108.4, 18.9, null,
     'ncmp_20240731.csv', '2024-07-31', 1, '2024-08-01 09:00:00'),
    ('N002', sha256('c2'), null, '6', '116001', 'M', '2012-10-02', 'SO15 1XY', 'Z',
     '2023-10-02', 145.0, 40.2, null,
     'ncmp_20240731.csv', '2024-07-31', 2, '2024-08-01 09:00:00'),
    ('N003', sha256('c3'), '2023/24', '6', '116001', 'M', '2013-02-02', null, null,
     null, null, null, 'ABSENT',
     'ncmp_20240731.csv', '2024-07-31', 3, '2024-08-01 09:00:00');

create table raw.postcode_lsoa (postcode varchar, lsoa_code varchar, {META});
insert into raw.postcode_lsoa values
    ('SO140AB', 'E01000001', 'postcode_lsoa.csv', null, 1, '2024-05-01 09:00:00'),
    ('so15 1xy', 'E01000002', 'postcode_lsoa.csv', null, 2, '2024-05-01 09:00:00'),
    ('SO16 9ZZ', 'E01000003', 'postcode_lsoa.csv', null, 3, '2024-05-01 09:00:00');

create table raw.lsoa_centre (
    lsoa_code varchar, centre_code varchar, centre_name varchar, la_code varchar,
    la_name varchar, {META}
);
insert into raw.lsoa_centre values
    ('E01000001', 'CC01', 'Northside', 'E06000045', 'Southampton', 'lsoa_centre.csv', null, 1,
     '2024-05-01 09:00:00'),
    ('E01000002', 'CC02', 'Riverside', 'E06000045', 'Southampton', 'lsoa_centre.csv', null, 2,
     '2024-05-01 09:00:00');

create table raw.lsoa_imd (lsoa_code varchar, imd_decile integer, {META});
insert into raw.lsoa_imd values
    ('E01000001', 1, 'lsoa_imd.csv', null, 1, '2024-05-01 09:00:00'),
    ('E01000002', 6, 'lsoa_imd.csv', null, 2, '2024-05-01 09:00:00'),
    ('E01000003', 10, 'lsoa_imd.csv', null, 3, '2024-05-01 09:00:00');

create table raw.lsoa_boundaries (
    lsoa_code varchar, geometry varchar, file_name varchar, loaded_at timestamp
);
insert into raw.lsoa_boundaries values
    ('E01000001', '{{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}',
     'lsoa_boundaries.geojson', '2024-05-01 09:00:00');

create table raw.load_runs (
    run_id varchar, started_at timestamp, finished_at timestamp, landing_dir varchar,
    files_loaded integer, files_skipped integer, key_fingerprint varchar, demo boolean
);
insert into raw.load_runs values
    ('run1', '2024-05-01 08:59:00', '2024-05-01 09:01:00', 'data/landing', 9, 0, 'abc', true);

create table raw.load_log (
    run_id varchar, file_name varchar, feed varchar, extract_date date, sha256 varchar,
    rows_read bigint, rows_accepted bigint, rows_quarantined bigint, field_issues bigint,
    ignored_columns varchar, encoding varchar, ge_success boolean, loaded_at timestamp
);
insert into raw.load_log values
    ('run1', 'maternity_20240430.csv', 'maternity', '2024-04-30', sha256('file'), 6, 5, 1, 1,
     null, 'utf-8', true, '2024-05-01 09:00:00');

create table raw.quarantine (
    run_id varchar, file_name varchar, feed varchar, source_row bigint, reason varchar,
    record_key varchar, raw_record varchar, loaded_at timestamp
);
insert into raw.quarantine values
    ('run1', 'maternity_20240430.csv', 'maternity', 6, 'missing delivery_date', 'B006',
     '{{"birth_id": "B006"}}', '2024-05-01 09:00:00');

create table raw.field_issues (
    run_id varchar, file_name varchar, feed varchar, source_row bigint, record_key varchar,
    field varchar, raw_value varchar, reason varchar, loaded_at timestamp
);
insert into raw.field_issues values
    ('run1', 'maternity_20240430.csv', 'maternity', 4, 'B004', 'gestation_weeks', '52',
     'outside 20-46 weeks', '2024-05-01 09:00:00');
"""


def build_raw_zone(warehouse: Path) -> None:
    """Write the hand-made raw zone into a new DuckDB file."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW_ZONE_SQL)
        con.execute(disclosure_audit.SUPPRESSIONS_DDL)  # as the loader creates it, empty


def run_dbt(tmp_path: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    dbt = Path(sys.executable).with_name("dbt")
    if not dbt.exists():
        found = shutil.which("dbt")
        if found is None:
            pytest.skip("dbt is not installed")
        dbt = Path(found)
    env = {
        **os.environ,
        "CC_WAREHOUSE": str(warehouse),
        "CC_TARGET": "duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        [
            str(dbt),
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("dbt_staging")
    warehouse = tmp_path / "warehouse" / "w.duckdb"
    build_raw_zone(warehouse)
    # staging, and the deliveries, whose grain is made from the staged births
    result = run_dbt(tmp_path, warehouse, "build", "--select", "+staging", "+int_deliveries_placed")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return warehouse


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_latest_version_wins(staged: Path) -> None:
    rows = query(
        staged,
        "select birth_id, birth_weight_grams, mother_postcode, extract_date "
        "from main.stg_maternity__births where birth_id = 'B001'",
    )
    assert rows == [("B001", 3450, "SO14 0AB", date(2024, 4, 30))]


def test_review_recorded_in_later_extract(staged: Path) -> None:
    rows = query(
        staged,
        "select review_id, contact_date, feeding_status, is_review_done "
        "from main.stg_health_visiting__reviews order by review_id",
    )
    assert rows == [
        ("R001", date(2023, 12, 20), "TOTAL", True),
        ("R002", None, None, False),
    ]


def test_deliveries_count_babies_of_latest_versions(staged: Path) -> None:
    rows = query(
        staged,
        "select delivery_id, babies, live_births, has_live_birth, mother_age_at_delivery "
        "from main.int_deliveries_placed order by delivery_id",
    )
    assert rows == [
        ("D001", 1, 1, True, 28),
        ("D002", 2, 1, True, 17),
        ("D003", 1, 0, None, 19),  # born 29 Feb 2004, delivered 28 Feb 2024: still 19
        ("D005", 1, 1, True, 34),  # B005 was moved from D004: D004 no longer exists
    ]


def test_postcodes_normalised(staged: Path) -> None:
    rows = query(staged, "select postcode, lsoa_code from main.stg_reference__postcode_lsoas order by 1")
    assert rows == [
        ("SO14 0AB", "E01000001"),
        ("SO15 1XY", "E01000002"),
        ("SO16 9ZZ", "E01000003"),
    ]


def test_imd_quintiles(staged: Path) -> None:
    rows = query(staged, "select imd_decile, imd_quintile from main.stg_reference__lsoa_imd order by 1")
    assert rows == [(1, 1), (6, 3), (10, 5)]


def test_ncmp_academic_year_and_bmi(staged: Path) -> None:
    rows = query(
        staged,
        "select ncmp_id, academic_year, is_measured, round(bmi, 2) "
        "from main.stg_ncmp__measurements order by ncmp_id",
    )
    assert rows == [
        ("N001", "2023/24", True, 16.08),
        ("N002", "2023/24", True, 19.12),
        ("N003", "2023/24", False, None),
    ]


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/stg_dev/w.duckdb")
    if target.exists():
        target.unlink()
    build_raw_zone(target)
    print(f"raw zone written to {target}")
