"""UK90 BMI centiles: the seed and int_ncmp_measurements_scored against the RCPCH's rcpchgrowth.

Builds the real models (seed uk90_bmi_lms, stg_ncmp__measurements, int_ncmp_measurements_scored)
with dbt over a raw.ncmp table of a few hundred random children in a temporary DuckDB file,
then recomputes each child's BMI SDS with rcpchgrowth (UK-WHO reference, which is UK90 from
4 years). rcpchgrowth is AGPL-3.0: used only here and by scripts/make_uk90_seed.py, never by
the warehouse; the tests are skipped when it is not installed.

Tolerance. Between the reference's monthly points the warehouse interpolates L, M and S
linearly (as the indicator spec says), rcpchgrowth cubically (as LMSgrowth does). Over 20,000
random children aged 4-13 with BMI 8-50 the two centiles differed by at most 0.008 centile
points and the z-scores (|z| < 4) by at most 0.00025, so the test allows 0.02 points and
0.001 in z. At ages that fall exactly on a monthly point (every 487 days) neither side
interpolates and the z-scores must agree to the 6 decimals the model stores.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")
rcpchgrowth = pytest.importorskip("rcpchgrowth")
stats = pytest.importorskip("scipy.stats")

from rcpchgrowth import centile, sds_for_measurement  # noqa: E402
from rcpchgrowth.constants import BMI, FEMALE, MALE, UK_WHO  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEED_CSV = PROJECT_DIR / "seeds" / "uk90_bmi_lms.csv"
MEASURED_ON = date(2024, 3, 12)
CENTILE_TOLERANCE = 0.02  # centile points; observed maximum 0.008 (see the docstring)
Z_TOLERANCE = 0.001  # observed maximum 0.00025 for |z| < 4
DAYS_PER_16_MONTHS = 487  # 16 months = 487 days exactly at 365.25 days a year
THRESHOLD_Z = {
    "overweight": 1.0364333894937896,
    "obese": 1.6448536269514727,
    "severely_obese": 2.6520698079021960,
}

RAW_NCMP_SQL = """
create schema raw;
create table raw.ncmp (
    ncmp_id varchar not null, child_pseudo_id varchar, academic_year varchar,
    school_year varchar, school_code varchar, sex varchar, birth_date date,
    child_postcode varchar, ethnic_category varchar, measurement_date date,
    height_cm double, weight_kg double, not_measured_reason varchar,
    file_name varchar, extract_date date, source_row bigint, loaded_at timestamp
);
"""


def random_children(count: int = 400, seed: int = 20240312) -> list[tuple]:
    """Raw NCMP rows: random sex, age 4-13 and BMI (mostly 12-30, one in five 8-50)."""
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        # the first 40 on a monthly point of the reference (4.0, 5.33, ..., 13.33 years),
        # the others anywhere from 4.0 to 13.998 years
        on_a_month = DAYS_PER_16_MONTHS * (3 + number % 8)
        age_days = on_a_month if number < 40 else rng.randrange(1461, 5114)
        bmi = rng.uniform(8.0, 50.0) if number % 5 == 0 else rng.uniform(12.0, 30.0)
        height_cm = rng.uniform(95.0, 175.0)
        weight_kg = bmi * (height_cm / 100) ** 2
        rows.append(
            (
                f"N{number:04d}",
                None,
                "2023/24",
                "R" if age_days < 2922 else "6",
                "116000",
                rng.choice("MF"),
                MEASURED_ON - timedelta(days=age_days),
                None,
                None,
                MEASURED_ON,
                height_cm,
                weight_kg,
                None,
                "ncmp_20240731.csv",
                date(2024, 7, 31),
                number + 1,
                "2024-08-01 09:00:00",
            )
        )
    return rows


def dbt_executable() -> str:
    dbt = Path(sys.executable).with_name("dbt")
    if dbt.exists():
        return str(dbt)
    found = shutil.which("dbt")
    if found is None:
        pytest.skip("dbt is not installed")
    return found


@pytest.fixture(scope="module")
def centiles(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    tmp_path = tmp_path_factory.mktemp("uk90")
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW_NCMP_SQL)
        con.executemany(f"insert into raw.ncmp values ({', '.join('?' * 17)})", random_children())
    result = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--select",
            "+int_ncmp_measurements_scored",
            "--resource-type",
            "seed",
            "--resource-type",
            "model",
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
        env={
            **os.environ,
            "CC_WAREHOUSE": str(warehouse),
            "CC_TARGET": "duckdb",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            "select ncmp_id, sex, age_years_at_measurement, bmi, has_valid_bmi_centile, "
            "bmi_z, bmi_centile, bmi_category, is_overweight_or_obese, is_obese, "
            "is_severely_obese from main.int_ncmp_measurements_scored order by ncmp_id"
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rcpch_z(child: dict) -> float:
    return sds_for_measurement(
        reference=UK_WHO,
        age=child["age_years_at_measurement"],
        measurement_method=BMI,
        observation_value=child["bmi"],
        sex=MALE if child["sex"] == "M" else FEMALE,
    )


def test_seed_is_the_rcpchgrowth_uk90_bmi_table() -> None:
    import make_uk90_seed

    assert SEED_CSV.read_text(encoding="utf-8") == make_uk90_seed.render(make_uk90_seed.reference_rows())


def test_every_random_child_gets_a_valid_centile(centiles: list[dict]) -> None:
    assert len(centiles) == 400
    assert all(child["has_valid_bmi_centile"] for child in centiles)


def test_centiles_agree_with_rcpchgrowth(centiles: list[dict]) -> None:
    differences = [abs(child["bmi_centile"] - centile(rcpch_z(child))) for child in centiles]
    assert max(differences) < CENTILE_TOLERANCE


def test_z_scores_agree_with_rcpchgrowth(centiles: list[dict]) -> None:
    for child in centiles:
        expected = rcpch_z(child)
        if abs(expected) < 4:
            assert child["bmi_z"] == pytest.approx(expected, abs=Z_TOLERANCE), child["ncmp_id"]


def test_z_scores_exact_on_the_reference_months(centiles: list[dict]) -> None:
    on_a_month = [child for child in centiles if child["ncmp_id"] < "N0040"]
    assert len(on_a_month) == 40
    for child in on_a_month:
        assert child["bmi_z"] == pytest.approx(rcpch_z(child), abs=6e-7), child["ncmp_id"]


def test_normal_cdf_approximation(centiles: list[dict]) -> None:
    # bmi_z is stored to 6 decimals and bmi_centile to 4: 1e-4 points covers both roundings;
    # the approximation itself is within 6e-6 points (macros/statistics/bmi.sql)
    for child in centiles:
        exact = 100 * stats.norm.cdf(child["bmi_z"])
        assert child["bmi_centile"] == pytest.approx(exact, abs=1e-4), child["ncmp_id"]


def test_categories_follow_the_z_thresholds(centiles: list[dict]) -> None:
    for child in centiles:
        z = child["bmi_z"]
        assert child["is_overweight_or_obese"] == (z >= THRESHOLD_Z["overweight"])
        assert child["is_obese"] == (z >= THRESHOLD_Z["obese"])
        assert child["is_severely_obese"] == (z >= THRESHOLD_Z["severely_obese"])
        expected_z = rcpch_z(child)
        # away from a threshold, rcpchgrowth's z puts the child in the same category
        if all(abs(expected_z - threshold) > Z_TOLERANCE for threshold in THRESHOLD_Z.values()):
            assert child["is_obese"] == (expected_z >= THRESHOLD_Z["obese"]), child["ncmp_id"]
            assert child["is_overweight_or_obese"] == (expected_z >= THRESHOLD_Z["overweight"])
