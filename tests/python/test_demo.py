"""The demo-city generator: deterministic, contract-conforming, realistic, a little dirty."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cc_warehouse import demo
from cc_warehouse.config import DEMO_MARKER

SMALL = ("--births-per-year", "600", "--lsoas", "30", "--centres", "4")
CONTRACT = {
    "maternity": demo.MATERNITY_COLUMNS,
    "health_visiting": demo.HEALTH_VISITING_COLUMNS,
    "ncmp": demo.NCMP_COLUMNS,
}
KEYS = {"maternity": "birth_id", "health_visiting": "review_id", "ncmp": "ncmp_id"}
EXTRA_COLUMNS = {"comments", "record_status", "source_system", "extract_run"}


def generate(out: Path, *args: str) -> Path:
    assert demo.main(["--out", str(out), "--quiet", *args]) == 0
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("small") / "landing", "--seed", "42", *SMALL)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("city") / "landing", "--seed", "7")


# --- reading the landing folder as the contract describes it ---------------------------------


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def read_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(decode(path.read_bytes())), dtype=str, keep_default_na=False)
    frame.columns = [name.strip().lower() for name in frame.columns]
    return frame.apply(lambda column: column.str.strip())


def read_feed(landing: Path, feed: str) -> pd.DataFrame:
    frames = [
        read_csv(path).assign(extract_date=path.stem.rsplit("_", 1)[1])
        for path in sorted((landing / feed).glob(f"{feed}_*.csv"))
    ]
    return pd.concat(frames, ignore_index=True)


def latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The copy from the latest extract wins; rows without key are dropped."""
    keyed = frame[frame[key] != ""]
    return keyed.sort_values("extract_date", kind="stable").drop_duplicates(key, keep="last")


def parse_dates(values: pd.Series) -> pd.Series:
    iso = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    return iso.fillna(pd.to_datetime(values, format="%d/%m/%Y", errors="coerce"))


def financial_year(dates: pd.Series) -> pd.Series:
    return dates.dt.year - (dates.dt.month < 4)


def all_files(landing: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(landing)): path.read_bytes()
        for path in sorted(landing.rglob("*"))
        if path.is_file()
    }


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(small: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", "--seed", "42", *SMALL)
    assert all_files(again) == all_files(small)


def test_one_process_writes_the_same_bytes_as_two(small: Path, tmp_path: Path) -> None:
    """NCMP is made in a forked process by default: the split must not change a byte."""
    alone = generate(tmp_path / "alone", "--seed", "42", *SMALL, "--processes", "1")
    assert all_files(alone) == all_files(small)


def test_another_seed_gives_other_data(small: Path, tmp_path: Path) -> None:
    other = all_files(generate(tmp_path / "other", "--seed", "43", *SMALL))
    mine = all_files(small)
    assert other["reference/postcode_lsoa.csv"] != mine["reference/postcode_lsoa.csv"]
    births = [b"".join(data for name, data in files.items() if name.startswith("maternity"))
              for files in (mine, other)]  # fmt: skip
    assert births[0] != births[1]


def test_rerun_replaces_an_earlier_demo_but_refuses_real_extracts(tmp_path: Path) -> None:
    landing = generate(tmp_path / "landing", "--seed", "1", *SMALL, "--years", "2")
    generate(landing, "--seed", "1", *SMALL, "--years", "1")
    assert len(list((landing / "maternity").glob("*.csv"))) == 4
    real = tmp_path / "real"
    (real / "maternity").mkdir(parents=True)
    (real / "maternity" / "maternity_20240101.csv").write_text("birth_id\n")
    assert demo.main(["--out", str(real), "--quiet", *SMALL]) == 2
    assert not (real / DEMO_MARKER).exists()


# --- the contract -----------------------------------------------------------------------------


def test_files_are_named_and_dated_as_the_contract_says(small: Path) -> None:
    assert "synthetic" in (small / DEMO_MARKER).read_text().lower()
    for name in demo.REFERENCE_FILES:
        assert (small / "reference" / name).is_file()
    expected = {"maternity": 24, "health_visiting": 24, "ncmp": 6}
    for feed, count in expected.items():
        names = sorted(path.name for path in (small / feed).iterdir())
        assert len(names) == count
        assert all(re.fullmatch(rf"{feed}_20\d{{6}}\.csv", name) for name in names)
    quarter_extracts = sorted(pd.Timestamp(p.stem.rsplit("_", 1)[1]) for p in (small / "maternity").iterdir())
    quarter_ends = pd.date_range("2019-06-30", periods=24, freq="QE")
    lags = [(extract - end).days for extract, end in zip(quarter_extracts, quarter_ends, strict=True)]
    assert all(14 <= lag <= 60 for lag in lags)
    ncmp_months = [pd.Timestamp(p.stem.rsplit("_", 1)[1]).month for p in (small / "ncmp").iterdir()]
    assert set(ncmp_months) <= {9, 10, 11}


def test_headers_hold_every_contract_column(small: Path) -> None:
    for feed, columns in CONTRACT.items():
        for path in sorted((small / feed).glob("*.csv")):
            header = list(read_csv(path).columns)
            assert len(header) == len(set(header)), path.name
            assert set(columns) <= set(header), path.name
            assert set(header) - set(columns) <= EXTRA_COLUMNS, path.name


def test_every_row_has_as_many_fields_as_the_header(small: Path) -> None:
    for path in sorted(small.rglob("*.csv")):
        rows = list(csv.reader(io.StringIO(decode(path.read_bytes()))))
        assert len(rows) > 1, path.name
        assert {len(row) for row in rows} == {len(rows[0])}, path.name


def test_file_quirks_all_occur(small: Path) -> None:
    raw = [path.read_bytes() for path in sorted(small.rglob("*.csv"))]
    assert any(data.startswith(b"\xef\xbb\xbf") for data in raw)
    assert any(b"\r\n" in data for data in raw)
    cp1252 = [data for data in raw if not data.startswith(b"\xef\xbb\xbf") and _not_utf8(data)]
    assert len(cp1252) >= 3  # lsoa_centre.csv and at least one per feed
    assert "Brontë" in decode((small / "reference" / "lsoa_centre.csv").read_bytes())
    headers = [decode(data).splitlines()[0] for data in raw]
    assert any(header != header.lower() for header in headers)
    assert any(header.startswith('"') for header in headers)
    maternity = read_feed(small, "maternity")
    assert maternity["delivery_date"].str.contains("/").any()
    assert maternity["delivery_date"].str.contains("-").any()


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# --- identifiers and bad input ----------------------------------------------------------------


def test_nhs_check_digit() -> None:
    valid = np.array([9434765919, 4010232137])  # the published examples
    assert demo.is_valid_nhs_number(valid).all()
    assert not demo.is_valid_nhs_number(valid + 1).any()


def test_nhs_numbers_valid_except_a_few_deliberate_errors(city: Path) -> None:
    numbers = pd.concat(
        [
            read_feed(city, "maternity")[["mother_nhs_number", "baby_nhs_number"]].stack(),
            read_feed(city, "health_visiting")["child_nhs_number"],
            read_feed(city, "ncmp")["child_nhs_number"],
        ]
    )
    numbers = numbers[numbers != ""]
    assert numbers.str.fullmatch(r"\d{10}").all()
    invalid = 1 - demo.is_valid_nhs_number(numbers.astype(np.int64).to_numpy()).mean()
    assert 0 < invalid < 0.01


def test_bad_rows_are_rare_and_never_break_required_columns(city: Path) -> None:
    maternity = read_feed(city, "maternity")
    assert 0 < (maternity["birth_id"] == "").mean() < 0.01
    unparsed = parse_dates(maternity["delivery_date"]).isna()
    assert 0 < unparsed.mean() < 0.01
    assert (maternity["delivery_id"] != "").all()
    assert (maternity["mother_ethnic_category"] == "Q").mean() < 0.01
    assert {"9999", "12000"} & set(maternity["birth_weight_grams"])
    resent = maternity[maternity["birth_id"] != ""].duplicated("birth_id", keep=False)
    assert 0.01 < resent.mean() < 0.15


def test_health_visiting_and_ncmp_link_to_maternity(city: Path) -> None:
    babies = set(read_feed(city, "maternity")["baby_nhs_number"]) - {""}
    children = latest(read_feed(city, "health_visiting"), "review_id")["child_nhs_number"]
    linked = children.isin(babies).mean()
    assert 0.85 < linked < 0.99
    ncmp = latest(read_feed(city, "ncmp"), "ncmp_id")
    assert ncmp["child_nhs_number"].isin(babies).any()
    assert not ncmp["child_nhs_number"].isin(babies).all()


# --- scale and realism ------------------------------------------------------------------------


def test_births_per_year_near_the_scale(city: Path) -> None:
    births = latest(read_feed(city, "maternity"), "birth_id")
    per_year = births.groupby(financial_year(parse_dates(births["delivery_date"]))).size()
    assert list(per_year.index) == list(range(2019, 2025))
    assert ((per_year - 3000).abs() < 300).all(), per_year.to_dict()


def test_multiple_births_share_the_delivery(city: Path) -> None:
    births = latest(read_feed(city, "maternity"), "birth_id")
    babies = births.groupby("delivery_id").size()
    assert 0.01 < (babies > 1).mean() < 0.022
    multiple = births[births["delivery_id"].isin(babies[babies > 1].index)]
    shared = [
        "delivery_date",
        "mother_nhs_number",
        "mother_birth_date",
        "delivery_method",
        "smoking_at_delivery",
        "mother_postcode",
    ]
    agree = multiple.groupby("delivery_id")[shared].nunique().le(1).all(axis=1)
    assert agree.mean() > 0.95


def test_rates_are_realistic(city: Path) -> None:
    births = latest(read_feed(city, "maternity"), "birth_id")
    live = births[births["live_birth"] == "Y"]
    weight = pd.to_numeric(live["birth_weight_grams"], errors="coerce")
    weight = weight.where(weight.between(200, 7000)).dropna()
    assert 0.06 < (weight < 2500).mean() < 0.08
    assert 0.002 < (births["live_birth"] == "N").mean() < 0.007
    deliveries = births.drop_duplicates("delivery_id")
    year = financial_year(parse_dates(deliveries["delivery_date"]))
    smoking = _share(deliveries["smoking_at_delivery"], "Y", ("Y", "N"), year)
    assert smoking.iloc[0] > smoking.iloc[-1] + 0.03
    assert smoking.min() > 0.08 and smoking.max() < 0.2
    methods = tuple("0123456789")
    normal = _share(deliveries["delivery_method"], ("0", "1"), methods, year)
    assert normal.between(0.5, 0.65).all()
    initiated = _share(deliveries["breastfeeding_initiated"], "Y", ("Y", "N"), year)
    assert initiated.between(0.68, 0.82).all()
    age = (
        parse_dates(deliveries["delivery_date"]) - parse_dates(deliveries["mother_birth_date"])
    ).dt.days / 365.25
    assert 0.025 < (age[age > 0] < 20).mean() < 0.06


def _share(values: pd.Series, hit: str | tuple[str, ...], known: tuple[str, ...], by: pd.Series) -> pd.Series:
    hits = values.isin([hit] if isinstance(hit, str) else hit)
    counted = values.isin(known)
    return hits[counted].groupby(by[counted]).mean()


def test_new_birth_visit_recording_rises(city: Path) -> None:
    reviews = latest(read_feed(city, "health_visiting"), "review_id")
    nbv = reviews[reviews["review_type"].str.upper() == "NBV"]
    year = financial_year(parse_dates(nbv["due_date"]))
    recorded = nbv["feeding_status"].str.upper().isin(demo.FEEDING_STATUSES)
    by_year = recorded.groupby(year).mean()
    assert abs(by_year.loc[2019] - 0.63) < 0.04
    assert abs(by_year.loc[2024] - 0.91) < 0.03
    assert by_year.is_monotonic_increasing
    six_eight = reviews[reviews["review_type"].str.upper() == "6-8W"]
    assert six_eight["feeding_status"].str.upper().isin(demo.FEEDING_STATUSES).mean() > 0.84
    assert 0.9 < (nbv["contact_date"] != "").mean() < 0.96


def test_ncmp_obesity_and_participation(city: Path) -> None:
    ncmp = latest(read_feed(city, "ncmp"), "ncmp_id")
    per_cohort = ncmp.groupby(["academic_year", "school_year"]).size()
    assert per_cohort.between(2500, 3600).all()
    measured = ncmp[ncmp["measurement_date"] != ""]
    assert 0.93 < len(measured) / len(ncmp) < 0.97
    assert (ncmp.loc[ncmp["measurement_date"] == "", "not_measured_reason"] != "").all()
    height = pd.to_numeric(measured["height_cm"], errors="coerce")
    weight = pd.to_numeric(measured["weight_kg"], errors="coerce")
    age = (parse_dates(measured["measurement_date"]) - parse_dates(measured["birth_date"])).dt.days / 365.25
    valid = height.between(50, 220) & weight.between(5, 200) & age.between(4, 13)
    z = _uk90_z(weight[valid] / (height[valid] / 100) ** 2, age[valid], measured.loc[valid, "sex"] == "M")
    obese = (z >= demo.OBESE_Z).groupby(measured.loc[valid, "school_year"]).mean()
    assert 0.08 < obese["R"] < 0.13
    assert 0.19 < obese["6"] < 0.26


def _uk90_z(bmi: pd.Series, age: pd.Series, male: pd.Series) -> pd.Series:
    lms = [demo._uk90(demo.UK90_BMI, age.to_numpy(), male.to_numpy(), column) for column in (1, 2, 3)]
    box_cox, median, cv = lms
    return pd.Series(((bmi.to_numpy() / median) ** box_cox - 1) / (box_cox * cv), index=bmi.index)


# --- reference files --------------------------------------------------------------------------


def test_reference_files_describe_one_contiguous_city(small: Path) -> None:
    reference = small / "reference"
    centres = read_csv(reference / "lsoa_centre.csv")
    assert centres["lsoa_code"].is_unique and len(centres) == 30
    assert centres["centre_code"].nunique() == 4
    assert set(centres["la_code"]) == {"E06999999"} and set(centres["la_name"]) == {"Demo City"}
    assert centres["lsoa_code"].str.fullmatch(r"E01999\d{3}").all()
    imd = read_csv(reference / "lsoa_imd.csv")
    assert set(centres["lsoa_code"]) <= set(imd["lsoa_code"])
    assert imd["imd_decile"].astype(int).between(1, 10).all()
    postcodes = read_csv(reference / "postcode_lsoa.csv")
    normal = postcodes["postcode"].str.replace(" ", "").str.upper()
    assert normal.is_unique
    per_lsoa = postcodes[postcodes["lsoa_code"].isin(centres["lsoa_code"])].groupby("lsoa_code")
    assert per_lsoa.size().between(15, 25).all() and per_lsoa.ngroups == 30
    boundaries = json.loads((reference / "lsoa_boundaries.geojson").read_text())
    assert boundaries["type"] == "FeatureCollection"
    codes = [feature["properties"]["lsoa_code"] for feature in boundaries["features"]]
    assert sorted(codes) == sorted(centres["lsoa_code"])
    for feature in boundaries["features"]:
        assert feature["geometry"]["type"] == "Polygon"
        ring = np.array(feature["geometry"]["coordinates"][0])
        assert len(ring) >= 4 and (ring[0] == ring[-1]).all()
        assert (np.abs(ring[:, 0] - demo.CITY_LON) < 3).all()
        assert (np.abs(ring[:, 1] - demo.CITY_LAT) < 2).all()
        assert _signed_area(ring) > 0  # counter-clockwise exterior ring


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float((x[:-1] * y[1:] - x[1:] * y[:-1]).sum() / 2)


def test_several_local_authorities(tmp_path: Path) -> None:
    landing = generate(tmp_path / "las", "--seed", "3", *SMALL, "--las", "2", "--years", "1")
    centres = read_csv(landing / "reference" / "lsoa_centre.csv")
    assert set(centres["la_code"]) == {"E06999999", "E06999998"}
    assert centres.groupby("centre_code")["la_code"].nunique().eq(1).all()
    assert centres["centre_code"].nunique() == 4


def test_presets_and_flags() -> None:
    args = demo._parser().parse_args(["--preset", "region", "--lsoas", "500"])
    scale = demo.scale_from_args(args)
    assert scale.lsoas == 500 and scale.births_per_year == 60_000 and scale.las == 15
    assert demo.scale_from_args(demo._parser().parse_args([])) == demo.Scale()
    assert demo.PRESETS["england"].lsoas == 33_000
    assert demo.validate(demo.Scale(centres=200)) != []
