"""Deterministic demo city: synthetic extracts that follow the extract contract.

``python -m cc_warehouse.demo --out DIR --seed 42`` writes a landing folder for "Demo City", a
fictional unitary authority (code E06999999) whose map lies on the Dogger Bank in the North
Sea, so that it can never be mistaken for a real place. Nothing in it describes a real person.

The model, in the order it is built (vectorised with numpy; pyarrow formats and writes the CSV):

1. Geography. LSOAs are the cells of a jittered grid clipped to a blob-shaped city. Recursive
   bisection groups them into local authorities, then children's centre areas and school
   catchments, so every area is contiguous. Each LSOA gets a deprivation score (a strong
   centre effect, an inner-city gradient and noise) that sets its IMD decile, its share of
   teenage mothers, its birth rate and, with a centre effect of its own, its ethnic mix.
   Fictional postcodes (areas DC, DM, ..., 15-25 per LSOA) map to the LSOAs.
2. Births. Deliveries per financial year follow the scale with a gentle fall. Logistic
   models whose intercepts are calibrated to city-wide targets give smoking (falling over
   time), multiple births, gestation, delivery method, still birth and breastfeeding, all
   worse in deprived areas; birth weight is log-normal around a gestation curve, calibrated
   to the term low-birth-weight rate. Some resident babies are born at other hospitals: they
   reach health visiting and NCMP but never the maternity extract.
3. Health visiting. Every live-born resident infant is due a new birth visit (day 14) and a
   6-8 week review (day 56). Contacts and feeding status are drawn with centre effects;
   feeding-status recording at the new birth visit rises from about 63% to 91%.
4. NCMP. Reception and Year 6 cohorts come from the births (children born before the
   maternity window, and movers-in, are drawn afresh). BMI is set from a UK90 z-score whose
   shift is calibrated to the obesity rates; height and weight follow from it.
5. Extracts. One maternity and one health-visiting extract per financial quarter, a few weeks
   after its end, and one NCMP extract per school year in the autumn. An extract also resends
   some records of the one before, with corrected values.
6. Bad input, at the low fixed rates of BAD_INPUT_RATES and FILE_QUIRK_SHARES: encodings,
   line endings, date formats, header spellings, extra columns, explicit unknown, unknown and
   impossible codes and values, NHS numbers failing Modulus 11, odd and unknown postcodes,
   rows without key or date. No file fails the load as a whole: rows are quarantined.

The same seed and flags give the same bytes.
"""

from __future__ import annotations

import argparse
import codecs
import ctypes
import math
import multiprocessing
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from cc_warehouse.config import DEMO_MARKER, settings

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
# Named numpy columns of equal length: all the model needs of a data frame, without the copies
# a pandas frame makes to consolidate, take and concatenate its blocks.
Frame = dict[str, NDArray]

# --------------------------------------------------------------------------------------------
# Contract and scale
# --------------------------------------------------------------------------------------------

MATERNITY_COLUMNS = (
    "birth_id", "delivery_id", "mother_nhs_number", "baby_nhs_number", "mother_birth_date",
    "mother_postcode", "mother_ethnic_category", "delivery_date", "gestation_weeks",
    "birth_weight_grams", "live_birth", "delivery_method", "smoking_at_delivery",
    "breastfeeding_initiated",
)  # fmt: skip
HEALTH_VISITING_COLUMNS = (
    "review_id", "child_nhs_number", "child_birth_date", "child_postcode", "review_type",
    "due_date", "contact_date", "feeding_status",
)  # fmt: skip
NCMP_COLUMNS = (
    "ncmp_id", "child_nhs_number", "academic_year", "school_year", "school_code", "sex",
    "birth_date", "child_postcode", "ethnic_category", "measurement_date", "height_cm",
    "weight_kg", "not_measured_reason",
)  # fmt: skip
REFERENCE_FILES = (
    "postcode_lsoa.csv", "lsoa_centre.csv", "lsoa_imd.csv", "lsoa_boundaries.geojson",
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    births_per_year: int = 3_000
    centres: int = 14
    lsoas: int = 150
    las: int = 1
    first_year: int = 2019
    years: int = 6
    # Shifts the IMD deciles towards the deprived end (a poorer than average city); England's
    # deciles are uniform by definition. Set by the preset only.
    deprivation_shift: float = 0.3


PRESETS = {
    "city": Scale(),
    "region": Scale(births_per_year=60_000, centres=300, lsoas=3_300, las=15, deprivation_shift=0.15),
    "england": Scale(births_per_year=600_000, centres=3_000, lsoas=33_000, las=150, deprivation_shift=0.0),
}
SCALE_FLAGS = ("births_per_year", "centres", "lsoas", "las", "first_year", "years")

# Row-level bad input: the share of rows (or deliveries) hit, per field where it applies.
BAD_INPUT_RATES = {
    "blank_key": 0.0005,
    "blank_required_date": 0.0005,
    "garbled_required_date": 0.0005,
    "impossible_value": 0.001,
    "unknown_code": 0.001,
    "explicit_unknown": 0.005,
    "blank_field": 0.003,
    "invalid_nhs_number": 0.001,
    "blank_nhs_number": 0.002,
    "date_after_extract": 0.0005,
    "mother_born_after_delivery": 0.0005,
    "lower_case_code": 0.003,
    "postcode_lower_case": 0.005,
    "postcode_no_space": 0.005,
    "postcode_extra_spaces": 0.002,
    "postcode_unknown": 0.002,
    "postcode_outside_area": 0.002,
}
# File-level quirks: the share of a feed's extracts that carry each (at least one file each).
FILE_QUIRK_SHARES = {
    "utf8_bom": 0.10,
    "windows_1252": 0.08,
    "crlf": 0.20,
    "dates_dmy": 0.10,
    "dates_mixed": 0.10,
    "header_variant": 0.12,
    "extra_column": 0.08,
    "quoted": 0.12,
}

# --------------------------------------------------------------------------------------------
# Model parameters (targets are city-wide; areas vary around them)
# --------------------------------------------------------------------------------------------

CITY_LAT, CITY_LON = 54.75, 2.0  # the Dogger Bank
CELL_KM = 0.9
KM_PER_DEGREE = 111.2
RUN_IN_DAYS = 70  # births before the window whose reviews fall due inside it
BIRTH_TREND = 0.99  # births fall by 1% a year
BABIES_PER_DELIVERY = 1.0154
BORN_ELSEWHERE = 0.03  # resident births at other hospitals
MOVED_OUT = 0.02  # infants who leave before their reviews
MOVED_BEFORE_REVIEW = 0.04
TWIN_SHARE, TRIPLET_SHARE = 0.015, 0.0002
SMOKING = (0.17, 0.10)  # first and last financial year
SPONTANEOUS_DELIVERY = (0.60, 0.55)
BREASTFEEDING_INITIATION = (0.72, 0.77)
BREASTFED_AT_NBV, BREASTFED_AT_6_8_WEEKS = 0.65, 0.47
TOTALLY_BREASTFED_AT_NBV, TOTALLY_BREASTFED_AT_6_8_WEEKS = 0.62, 0.58
NBV_RECORDED = (0.63, 0.91)
SIX_EIGHT_WEEK_RECORDED = (0.87, 0.91)
SINGLETON_PRETERM, TWIN_PRETERM, TRIPLET_PRETERM = 0.058, 0.55, 0.95
STILL_BIRTH = 0.004
TERM_LOW_BIRTH_WEIGHT = 0.029
MATERNITY_RESEND, REVIEW_RESEND, NCMP_RESEND = 0.04, 0.02, 0.01
NCMP_STAYERS, NCMP_MOVERS_IN, NCMP_MOVED_HOME = 0.88, 0.12, 0.45
NCMP_MEASURED = 0.95
PUPILS_PER_SCHOOL_YEAR = 45
RECEPTION_OBESITY = {2019: 0.098, 2020: 0.120, 2021: 0.104, 2022: 0.098, 2023: 0.096}
YEAR6_OBESITY = {2019: 0.215, 2020: 0.240, 2021: 0.234, 2022: 0.228, 2023: 0.223}
OBESE_Z = 1.6449  # 95th centile

ETHNIC_CODES = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S",
                "Z", "99")  # fmt: skip
WHITE_SHARES = (0.82, 0.02, 0.16)  # A, B, C
BME_SHARES = np.array([6, 4, 5, 5, 8, 22, 10, 7, 5, 12, 3, 3, 10]) / 100  # D .. S
FIRST_BME, NOT_STATED, NOT_KNOWN = 3, 16, 17
SOUTH_ASIAN = (7, 8, 9, 10)  # H, J, K, L

TERM_WEEKS, TERM_SHARES = np.arange(37, 43), np.array([7, 15, 27, 29, 18, 4]) / 100
PRETERM_WEEKS = np.arange(22, 37)
PRETERM_SHARES = 0.7 ** (36 - PRETERM_WEEKS) / (0.7 ** (36 - PRETERM_WEEKS)).sum()
MEDIAN_WEIGHT_WEEKS = np.array([22, 24, 26, 28, 30, 32, 34, 36, 37, 38, 39, 40, 41, 42])
MEDIAN_WEIGHT_GRAMS = np.array(
    [500, 700, 900, 1200, 1500, 1900, 2400, 2900, 3080, 3250, 3420, 3550, 3680, 3750]
)
SPONTANEOUS_METHODS, SPONTANEOUS_SHARES = np.array([0, 1]), np.array([0.96, 0.04])
OTHER_METHODS = np.arange(2, 10)
OTHER_METHOD_SHARES = np.array([3, 4, 13, 0.8, 0.2, 33, 44, 1]) / 99.0

# UK90 BMI reference (Cole et al. 1995) at whole years, as in seeds/uk90_bmi_lms.csv: age, L, M,
# S. Linear between whole years is close enough to the monthly seed for generating data.
UK90_BMI = {
    "M": np.array([
        [4, -1.291, 15.752, 0.0768], [5, -1.481, 15.547, 0.0786], [6, -1.634, 15.498, 0.0833],
        [10, -1.857, 16.423, 0.1089], [11, -1.837, 16.892, 0.1125], [12, -1.799, 17.433, 0.1149],
    ]),
    "F": np.array([
        [4, -1.151, 15.656, 0.0873], [5, -1.220, 15.483, 0.0933], [6, -1.277, 15.485, 0.1007],
        [10, -1.339, 16.898, 0.1255], [11, -1.322, 17.478, 0.1279], [12, -1.302, 18.117, 0.1290],
    ]),
}  # fmt: skip
MEDIAN_HEIGHT = {  # age, cm
    "M": np.array([[4, 102.9], [5, 110.0], [6, 116.4], [10, 138.9], [11, 144.2], [12, 149.4]]),
    "F": np.array([[4, 101.9], [5, 109.0], [6, 115.5], [10, 138.5], [11, 144.7], [12, 151.2]]),
}
HEIGHT_CV = 0.042

CENTRE_WORDS = (
    "Acorn", "Brontë", "Bluebell", "Cedar", "Daisy", "Elder", "Foxglove", "Hazel", "Ivy",
    "Juniper", "Kestrel", "Larch", "Maple", "Nettle", "Oakwood", "Primrose", "Quarry", "Rowan",
    "Sorrel", "Thistle", "Violet", "Willow", "Yarrow", "Alder", "Birch", "Clover", "Fern",
    "Gorse", "Heather", "Iris", "Linden", "Magnolia", "Poppy", "Sage", "Teasel", "Holly",
    "Laurel", "Bramble", "Heron", "Wren",
)  # fmt: skip
PLACE_WORDS = (
    "Park", "Lane", "Hill", "Green", "Fields", "Road", "Vale", "Bank", "Gate", "Rise", "Meadow",
    "Brook", "Croft", "Row", "Common", "Grove", "Square", "Way", "End", "Mill",
)  # fmt: skip
CENTRE_KINDS = ("Children's Centre", "Family Hub", "Early Years Centre", "Family Centre")
POSTCODE_AREAS = ("DC", "DM", "DP", "DR", "DU", "DW")  # not UK postcode areas
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
POSTCODES_PER_AREA = 99 * 10 * 400
NO_FIXED_ABODE = "ZZ99 3VZ"  # the NHS pseudo-postcode
GARBLED_DATES = ("31/02/2021", "2021-13-01", "00/00/0000", "UNKNOWN", "2020-02-30", "12/13/2020")
COMMENTS = (
    "Interpreter booked – Polish",
    "Seen at Café Bébé group",
    "Fee £0 waived",
    "Moved in – records requested",
)

# --------------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    """One independent random stream per part of the model, so parts can change separately."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _day(year: int, month: int, day: int) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))


def _weekday_on_or_after(days: Ints) -> Ints:
    rolled = np.busday_offset(days.astype("datetime64[D]"), 0, roll="forward")
    return rolled.astype(np.int64)


def _sigmoid(x: Floats) -> Floats:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _normal_cdf(x: Floats) -> Floats:
    """Abramowitz and Stegun 7.1.26 (error < 1.5e-7); numpy has no erf."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _calibrated(eta: Floats, target: float, weight: Floats | None = None) -> Floats:
    """Probabilities sigmoid(a + eta), with a chosen so that mean(weight * p) = target."""
    if eta.size == 0:
        return eta.astype(np.float64)
    step = max(1, eta.size // 50_000)
    sample = eta[::step]
    sample_weight = None if weight is None else weight[::step]
    p = np.empty(sample.size)  # sigmoid(middle + sample), computed in place
    low, high = -30.0, 30.0
    for _ in range(40):
        middle = 0.5 * (low + high)
        np.negative(np.add(sample, middle, out=p), out=p)
        np.divide(1.0, np.add(np.exp(p, out=p), 1.0, out=p), out=p)
        if sample_weight is not None:
            np.multiply(sample_weight, p, out=p)
        if np.mean(p) < target:
            low = middle
        else:
            high = middle
    return _sigmoid(0.5 * (low + high) + eta)


def _draw_by_group(rng: np.random.Generator, eta: Floats, group: Ints, targets: Sequence[float]) -> Bools:
    """Bernoulli draws whose mean in each group (e.g. financial year) hits that group's target."""
    probability = np.zeros(eta.size)
    for index, target in enumerate(targets):
        members = group == index
        probability[members] = _calibrated(eta[members], target)
    return rng.random(eta.size) < probability


def _rows(frame: Frame) -> int:
    return next(iter(frame.values())).size


def _take(frame: Frame, rows: Ints | Bools) -> Frame:
    return {name: column[rows] for name, column in frame.items()}


def _concat(frames: Sequence[Frame]) -> Frame:
    return {name: np.concatenate([frame[name] for frame in frames]) for name in frames[0]}


@dataclass(frozen=True)
class Ordered:
    """A frame read in a given row order: a column is gathered only when read, so choosing
    rows of it (`rows`) composes the orders instead of copying every column twice."""

    frame: Frame
    order: Ints

    def __getitem__(self, name: str) -> NDArray:
        return self.frame[name][self.order]

    def rows(self, rows: Ints) -> Ordered:
        return Ordered(self.frame, self.order[rows])


def _trend(first_last: tuple[float, float], years: int) -> Floats:
    return np.linspace(first_last[0], first_last[1], years) if years > 1 else np.array([first_last[0]])


def _apportion(total: int, sizes: Ints) -> Ints:
    """Split total parts over groups in proportion to size: at least 1, at most size each."""
    quota = total * sizes / sizes.sum()
    parts = np.minimum(np.maximum(1, np.floor(quota)).astype(np.int64), sizes)
    while parts.sum() < total:
        room = np.where(parts < sizes, quota - parts, -np.inf)
        parts[np.argmax(room)] += 1
    while parts.sum() > total:
        excess = np.where(parts > 1, parts - quota, -np.inf)
        parts[np.argmax(excess)] -= 1
    return parts


def _partition(cols: Ints, rows: Ints, parts: int) -> Ints:
    """Contiguous groups of near-equal size, by recursive bisection of grid cells."""
    labels = np.zeros(cols.size, dtype=np.int64)
    pending = [(np.arange(cols.size), 0, parts)]
    while pending:
        members, first_label, count = pending.pop()
        if count == 1:
            labels[members] = first_label
            continue
        lower_count = count // 2
        lower_size = round(members.size * lower_count / count)
        c, r = cols[members], rows[members]
        order = np.lexsort((r, c)) if np.ptp(c) >= np.ptp(r) else np.lexsort((c, r))
        pending.append((members[order[lower_size:]], first_label + lower_count, count - lower_count))
        pending.append((members[order[:lower_size]], first_label, lower_count))
    return labels


def _nested_partition(cols: Ints, rows: Ints, group: Ints, parts: Ints) -> Ints:
    labels = np.zeros(cols.size, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(parts)[:-1]))
    for index, count in enumerate(parts):
        members = np.flatnonzero(group == index)
        labels[members] = offsets[index] + _partition(cols[members], rows[members], int(count))
    return labels


# --------------------------------------------------------------------------------------------
# NHS numbers
# --------------------------------------------------------------------------------------------

# Every NHS number starts with 9, outside the ranges England and Wales issue to patients.
# Mothers, babies and children met only at school draw from disjoint ranges, so never clash.
MOTHER_NHS_BASES = (900_000_000, 930_000_000)
BABY_NHS_BASES = (930_000_000, 965_000_000)
SCHOOL_CHILD_NHS_BASES = (965_000_000, 1_000_000_000)


def _weighted_digit_sums(digits: int, first_weight: int) -> Ints:
    """Sum of digit times weight (first_weight, first_weight - 1, ...) of every number that long."""
    numbers = np.arange(10**digits)
    return sum((numbers // 10 ** (digits - 1 - k)) % 10 * (first_weight - k) for k in range(digits))


# Modulus 11 with weights 10..2 over nine digits, as two table look-ups (first four digits, last
# five) rather than nine integer divisions a number: numpy's int64 division is slow.
NHS_HIGH_SUMS, NHS_LOW_SUMS = _weighted_digit_sums(4, 10), _weighted_digit_sums(5, 6)
NHS_CHECK_OF_SUM = (11 - np.arange(NHS_HIGH_SUMS.max() + NHS_LOW_SUMS.max() + 1) % 11) % 11


def nhs_check_digit(base: Ints) -> Ints:
    """Modulus 11 check digit of nine-digit bases; 10 means the base cannot be used."""
    if base.size and (base.min() < 0 or base.max() >= 1_000_000_000):
        base = base % 1_000_000_000
    # exact: a float64 quotient of numbers below 2**53 never rounds across a whole number here
    high = np.floor(base / 100_000.0).astype(np.int64)
    low = base - high * 100_000
    return NHS_CHECK_OF_SUM[NHS_HIGH_SUMS[high] + NHS_LOW_SUMS[low]]


def is_valid_nhs_number(numbers: Ints) -> Bools:
    return (numbers >= 1_000_000_000) & (nhs_check_digit(numbers // 10) == numbers % 10)


def _first_occurrences(values: Ints) -> Bools:
    """True where a value appears for the first time (sort based: hashing is slow here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(values.size, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    first = np.zeros(values.size, dtype=bool)
    first[order[new]] = True
    return first


def _nhs_numbers(rng: np.random.Generator, count: int, bases: tuple[int, int]) -> Ints:
    """Unique valid ten-digit NHS numbers: draw bases, drop check digit 10 and repeats."""
    found = np.zeros(0, dtype=np.int64)
    while found.size < count:
        base = rng.integers(bases[0], bases[1], int((count - found.size) * 1.25) + 16)
        check = nhs_check_digit(base)
        usable = check < 10
        found = np.concatenate([found, base[usable] * 10 + check[usable]])
        found = found[_first_occurrences(found)]
    return found[:count]


# --------------------------------------------------------------------------------------------
# Calendar: quarters and extract dates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    first_year: int
    years: int
    quarter_start: Ints
    quarter_end: Ints
    extract_day: Ints  # one per quarter
    ncmp_extract_day: Ints  # one per academic year

    @property
    def start(self) -> int:
        return int(self.quarter_start[0])

    @property
    def end(self) -> int:
        return int(self.quarter_end[-1])

    @property
    def quarters(self) -> int:
        return self.quarter_start.size

    def quarter_of(self, days: Ints) -> Ints:
        """Index of the financial quarter holding each day; -1 outside the window."""
        quarter = np.searchsorted(self.quarter_start, days, side="right") - 1
        return np.where((days >= self.start) & (days <= self.end), quarter, -1)

    def financial_year_of(self, days: Ints) -> Ints:
        """Financial year index (0 = first), clipped to the window's years."""
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        first_month = (self.first_year - 1970) * 12 + 3
        return np.clip((months - first_month) // 12, 0, self.years - 1)


def build_calendar(scale: Scale, seed: int) -> Calendar:
    rng = _rng(seed, "calendar")
    first = np.datetime64(f"{scale.first_year}-04", "M")
    months = first + 3 * np.arange(4 * scale.years)
    start = months.astype("datetime64[D]").astype(np.int64)
    end = (months + 3).astype("datetime64[D]").astype(np.int64) - 1
    extract = _weekday_on_or_after(end + 21 + rng.integers(0, 22, end.size))
    year_end = np.array([_day(scale.first_year + i + 1, 8, 31) for i in range(scale.years)])
    ncmp_extract = _weekday_on_or_after(year_end + 30 + rng.integers(0, 31, scale.years))
    return Calendar(scale.first_year, scale.years, start, end, extract, ncmp_extract)


# --------------------------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Geography:
    lsoa_code: NDArray[np.str_]  # the city's LSOAs, then a few outside every centre
    n_lsoas: int
    lsoa_la: Ints
    lsoa_centre: Ints
    lsoa_school: Ints
    deprivation: Floats  # standardised; high = deprived
    imd_decile: Ints  # city and outside LSOAs
    teen_share: Floats
    bme_share: Floats
    birth_share: Floats
    polygons: Floats  # (LSOA, vertex, lon/lat)
    centre_code: list[str]
    centre_name: list[str]
    nbv_recording_effect: Floats
    review_done_effect: Floats
    ncmp_participation_effect: Floats
    la_code: list[str]
    la_name: list[str]
    postcode: pa.Array  # normal form; the city's postcodes first
    postcode_lsoa: Ints
    postcode_start: Ints  # per LSOA (city and outside)
    postcode_count: Ints
    n_city_postcodes: int
    n_schools: int

    def draw_postcodes(self, rng: np.random.Generator, lsoa: Ints) -> Ints:
        offset = np.floor(rng.random(lsoa.size) * self.postcode_count[lsoa]).astype(np.int64)
        return self.postcode_start[lsoa] + offset

    def draw_lsoas(self, rng: np.random.Generator, count: int) -> Ints:
        return rng.choice(self.n_lsoas, size=count, p=self.birth_share)


def _city_cells(rng: np.random.Generator, count: int) -> tuple[Ints, Ints, int]:
    """Grid cells of a blob-shaped city: star-shaped, so without holes or islands."""
    side = math.ceil(1.3 * math.sqrt(4 * count / math.pi)) + 4
    rows, cols = np.divmod(np.arange(side * side, dtype=np.int64), side)
    dx, dy = cols + 0.5 - side / 2, rows + 0.5 - side / 2
    theta = np.arctan2(dy, dx)
    phase = rng.uniform(0, 2 * math.pi, 2)
    reach = 1 + 0.12 * np.sin(3 * theta + phase[0]) + 0.06 * np.sin(5 * theta + phase[1])
    keep = np.sort(np.argsort(np.hypot(dx, dy) / reach, kind="stable")[:count])
    return cols[keep], rows[keep], side


def _cell_polygons(rng: np.random.Generator, cols: Ints, rows: Ints, side: int) -> Floats:
    """Jittered grid cells with a jittered midpoint on every edge, shared by neighbours."""
    n = side + 1
    vx = np.arange(n)[None, :] + rng.uniform(-0.22, 0.22, (n, n))
    vy = np.arange(n)[:, None] + rng.uniform(-0.22, 0.22, (n, n))
    hx = (vx[:, :-1] + vx[:, 1:]) / 2 + rng.uniform(-0.1, 0.1, (n, side))
    hy = (vy[:, :-1] + vy[:, 1:]) / 2 + rng.uniform(-0.12, 0.12, (n, side))
    ux = (vx[:-1, :] + vx[1:, :]) / 2 + rng.uniform(-0.12, 0.12, (side, n))
    uy = (vy[:-1, :] + vy[1:, :]) / 2 + rng.uniform(-0.1, 0.1, (side, n))
    r, c = rows, cols
    # counter-clockwise from the bottom-left corner, as RFC 7946 asks of exterior rings
    ring = [
        (vx, vy, r, c),
        (hx, hy, r, c),
        (vx, vy, r, c + 1),
        (ux, uy, r, c + 1),
        (vx, vy, r + 1, c + 1),
        (hx, hy, r + 1, c),
        (vx, vy, r + 1, c),
        (ux, uy, r, c),
        (vx, vy, r, c),
    ]
    x = np.stack([px[pr, pc_] for px, _, pr, pc_ in ring], axis=1)
    y = np.stack([py[pr, pc_] for _, py, pr, pc_ in ring], axis=1)
    lat = CITY_LAT + (y - side / 2) * CELL_KM / KM_PER_DEGREE
    lon = CITY_LON + (x - side / 2) * CELL_KM / (KM_PER_DEGREE * math.cos(math.radians(CITY_LAT)))
    return np.round(np.stack([lon, lat], axis=2), 6)


def _deprivation(
    rng: np.random.Generator,
    cols: Ints,
    rows: Ints,
    la: Ints,
    centre_effect: Floats,
    centre: Ints,
    n_las: int,
) -> Floats:
    """Centre effect + LA effect + inner-city gradient + noise, standardised."""
    size = np.bincount(la, minlength=n_las)
    mid_x = np.bincount(la, cols, n_las) / size
    mid_y = np.bincount(la, rows, n_las) / size
    distance = np.hypot(cols - mid_x[la], rows - mid_y[la])
    furthest = np.zeros(n_las)
    np.maximum.at(furthest, la, distance)
    relative = distance / np.maximum(furthest[la], 1.0)
    la_effect = rng.normal(0, 0.4, n_las) if n_las > 1 else np.zeros(1)
    raw = centre_effect[centre] + la_effect[la] + 0.7 * (0.5 - relative)
    raw = raw + rng.normal(0, 0.5, cols.size)
    return (raw - raw.mean()) / max(raw.std(), 1e-9)


def _lsoa_codes(count: int) -> NDArray[np.str_]:
    """E01 codes in a range no real LSOA uses: E01999001 .., or E0199xxxx / E019xxxxx."""
    width = max(3, len(str(count)))
    prefix = "E01" + "9" * (6 - width)
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)])


def _centre_names(count: int) -> list[str]:
    names = []
    n_words, n_places = len(CENTRE_WORDS), len(PLACE_WORDS)
    for index in range(count):
        word = CENTRE_WORDS[index % n_words]
        place = PLACE_WORDS[(index % n_words + index // n_words) % n_places]
        kind_index = index // (n_words * n_places)
        kind = CENTRE_KINDS[kind_index % len(CENTRE_KINDS)]
        suffix = f" {kind_index // len(CENTRE_KINDS) + 1}" if kind_index >= len(CENTRE_KINDS) else ""
        names.append(f"{word} {place} {kind}{suffix}")
    return names


def _postcodes(rng: np.random.Generator, n_lsoas: int) -> tuple[pa.Array, Ints, Ints, Ints]:
    """Fictional postcodes, consecutive per LSOA; returns text, LSOA, start and count."""
    count = rng.integers(15, 26, n_lsoas)
    total = int(count.sum())
    if total > POSTCODES_PER_AREA * len(POSTCODE_AREAS):
        raise ValueError("too many LSOAs for the fictional postcode areas")
    ordinal = np.arange(total)
    area, rest = np.divmod(ordinal, POSTCODES_PER_AREA)
    units = np.array([a + b for a in POSTCODE_UNIT_LETTERS for b in POSTCODE_UNIT_LETTERS])
    unit = rng.permutation(units.size)[rest % 400]
    outward = pc.binary_join_element_wise(_labels(area, POSTCODE_AREAS), _ints(1 + rest // 4000), "")
    inward = pc.binary_join_element_wise(_ints((rest // 400) % 10), _labels(unit, units), "")
    text = pc.binary_join_element_wise(outward, inward, " ")
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    return text, np.repeat(np.arange(n_lsoas), count), start, count


def build_geography(scale: Scale, seed: int) -> Geography:
    rng = _rng(seed, "geography")
    cols, rows, side = _city_cells(rng, scale.lsoas)
    la = _partition(cols, rows, scale.las)
    la_size = np.bincount(la, minlength=scale.las)
    centre = _nested_partition(cols, rows, la, _apportion(scale.centres, la_size))
    n_schools = min(scale.lsoas, max(scale.las, round(scale.births_per_year / PUPILS_PER_SCHOOL_YEAR)))
    school = _nested_partition(cols, rows, la, _apportion(n_schools, la_size))
    order = np.lexsort((cols, -rows, centre))
    cols, rows, la, centre, school = (a[order] for a in (cols, rows, la, centre, school))
    centre_effect = rng.normal(0, 0.85, scale.centres)
    deprivation = _deprivation(rng, cols, rows, la, centre_effect, centre, scale.las)
    n_outside = max(2, scale.lsoas // 50)
    decile = 1 + np.floor(10 * _normal_cdf(-deprivation - scale.deprivation_shift))
    decile = np.concatenate([np.clip(decile, 1, 10), rng.integers(1, 11, n_outside)])
    bme_centre = _logit(0.14) + rng.normal(0, 1.1, scale.centres) + 0.3 * centre_effect
    bme_share = _sigmoid(bme_centre[centre] + rng.normal(0, 0.45, scale.lsoas))
    teen_share = _sigmoid(_logit(0.03) + 0.6 * deprivation + rng.normal(0, 0.15, scale.lsoas))
    birth_rate = np.exp(0.25 * deprivation + rng.normal(0, 0.3, scale.lsoas))
    postcode, postcode_lsoa, start, count = _postcodes(rng, scale.lsoas + n_outside)
    la_code = [f"E06{999_999 - i}" for i in range(scale.las)]
    width = max(2, len(str(scale.centres)))
    return Geography(
        lsoa_code=_lsoa_codes(scale.lsoas + n_outside),
        n_lsoas=scale.lsoas,
        lsoa_la=la,
        lsoa_centre=centre,
        lsoa_school=school,
        deprivation=deprivation,
        imd_decile=decile.astype(np.int64),
        teen_share=teen_share,
        bme_share=bme_share,
        birth_share=birth_rate / birth_rate.sum(),
        polygons=_cell_polygons(rng, cols, rows, side),
        centre_code=[f"CC{i:0{width}d}" for i in range(1, scale.centres + 1)],
        centre_name=_centre_names(scale.centres),
        nbv_recording_effect=rng.normal(0, 0.9, scale.centres),
        review_done_effect=rng.normal(0, 0.5, scale.centres),
        ncmp_participation_effect=rng.normal(0, 0.4, scale.centres),
        la_code=la_code,
        la_name=["Demo City"] + [f"Demo Borough {i}" for i in range(2, scale.las + 1)],
        postcode=postcode,
        postcode_lsoa=postcode_lsoa,
        postcode_start=start,
        postcode_count=count,
        n_city_postcodes=int(count[: scale.lsoas].sum()),
        n_schools=n_schools,
    )


# --------------------------------------------------------------------------------------------
# Births
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Births:
    deliveries: Frame  # sorted by day
    babies: Frame  # in delivery order


def _delivery_days(rng: np.random.Generator, calendar: Calendar, scale: Scale) -> Ints:
    """Deliveries per financial year follow the scale exactly; days carry a September peak."""
    per_year = scale.births_per_year / (BABIES_PER_DELIVERY * (1 - BORN_ELSEWHERE))
    peak = _day(2000, 9, 25)
    chunks = []
    for year in range(-1, scale.years):
        first = _day(scale.first_year + year, 4, 1)
        last = _day(scale.first_year + year + 1, 3, 31)
        if year == -1:
            first = calendar.start - RUN_IN_DAYS
        days = np.arange(first, last + 1)
        weight = 1 + 0.05 * np.cos(2 * math.pi * (days - peak) / 365.25)
        trend = BIRTH_TREND ** (year - (scale.years - 1) / 2)
        count = round(per_year * trend * days.size / 365.25)
        chunks.append(np.sort(rng.choice(days, size=count, p=weight / weight.sum())))
    return np.concatenate(chunks)


def _mother_ages(rng: np.random.Generator, teen: Bools, deprivation: Floats) -> Floats:
    adult = rng.normal(30.3 - 1.2 * deprivation, 5.3)
    adult = np.where(adult < 20, 20 + 4 * rng.random(adult.size), np.minimum(adult, 47.5))
    return np.where(teen, 15 + 5 * rng.random(teen.size) ** 0.6, adult)


def _ethnic_categories(rng: np.random.Generator, bme_share: Floats) -> Ints:
    bme = rng.random(bme_share.size) < bme_share
    white = rng.choice(3, size=bme.size, p=WHITE_SHARES)
    other = FIRST_BME + rng.choice(BME_SHARES.size, size=bme.size, p=BME_SHARES)
    return np.where(bme, other, white)


def _gestations(rng: np.random.Generator, preterm: Bools, multiple: Bools) -> Ints:
    term = rng.choice(TERM_WEEKS, size=preterm.size, p=TERM_SHARES)
    multiple_term = rng.choice([37, 38], size=preterm.size, p=[0.6, 0.4])
    early = rng.choice(PRETERM_WEEKS, size=preterm.size, p=PRETERM_SHARES)
    return np.where(preterm, early, np.where(multiple, multiple_term, term))


def _babies(rng: np.random.Generator, d: Frame) -> Frame:
    delivery = np.repeat(np.arange(_rows(d)), d["multiplicity"])
    gestation = d["gestation"][delivery]
    deprivation = d["deprivation"][delivery]
    preterm = gestation < 37
    still_eta = 2.6 * preterm + 1.5 * (gestation < 28) + 0.3 * deprivation
    live = rng.random(delivery.size) >= _calibrated(still_eta, STILL_BIRTH)
    male = rng.random(delivery.size) < 0.512
    ethnic = d["ethnic"][delivery]
    log_weight = (
        np.log(np.interp(gestation, MEDIAN_WEIGHT_WEEKS, MEDIAN_WEIGHT_GRAMS))
        - 0.035 * ~male
        - 0.07 * d["smoker"][delivery]
        - 0.06 * np.isin(ethnic, SOUTH_ASIAN)
        - 0.08 * (d["multiplicity"][delivery] > 1)
        - 0.02 * deprivation
        + rng.normal(0, 0.135, delivery.size)
    )
    term = ~preterm & live
    shift = math.log(2500) - np.quantile(log_weight[term], TERM_LOW_BIRTH_WEIGHT)
    weight = np.clip(np.round(np.exp(log_weight + shift)), 300, 6200).astype(np.int64)
    return {
        "delivery": delivery,
        "male": male,
        "live": live,
        "weight": weight,
        "nhs": _nhs_numbers(rng, delivery.size, BABY_NHS_BASES),
        "has_nhs": live | (rng.random(delivery.size) < 0.1),
        "moved_out": rng.random(delivery.size) < MOVED_OUT,
    }


def _breastfeeding(rng: np.random.Generator, d: Frame, year: Ints, years: int) -> None:
    """Initiation, then still breastfed at the new birth visit and at 6-8 weeks."""
    deprivation, bme = d["deprivation"], d["ethnic"] >= FIRST_BME
    teen, smoker = d["teen"], d["smoker"]
    initiation_eta = (
        -0.5 * deprivation + 1.3 * bme - 0.9 * teen - 0.7 * smoker + 0.02 * (d["mother_age"] - 30)
    )
    initiated = _draw_by_group(rng, initiation_eta, year, _trend(BREASTFEEDING_INITIATION, years))
    keep_eta = -0.35 * deprivation + 0.9 * bme - 0.4 * teen - 0.3 * smoker
    at_nbv = initiated & (
        rng.random(_rows(d)) < _calibrated(keep_eta, BREASTFED_AT_NBV, initiated.astype(float))
    )
    at_6_8 = at_nbv & (
        rng.random(_rows(d)) < _calibrated(keep_eta, BREASTFED_AT_6_8_WEEKS, at_nbv.astype(float))
    )
    d["bf_initiated"] = initiated
    d["bf_nbv"] = at_nbv
    d["bf_6_8"] = at_6_8
    d["total_nbv"] = at_nbv & (rng.random(_rows(d)) < TOTALLY_BREASTFED_AT_NBV)
    d["total_6_8"] = at_6_8 & (rng.random(_rows(d)) < TOTALLY_BREASTFED_AT_6_8_WEEKS)


def simulate_births(geo: Geography, calendar: Calendar, scale: Scale, seed: int) -> Births:
    rng = _rng(seed, "births")
    day = _delivery_days(rng, calendar, scale)
    n = day.size
    lsoa = geo.draw_lsoas(rng, n)
    deprivation = geo.deprivation[lsoa]
    year = calendar.financial_year_of(day)
    teen = rng.random(n) < geo.teen_share[lsoa]
    age = _mother_ages(rng, teen, deprivation)
    ethnic = _ethnic_categories(rng, geo.bme_share[lsoa])
    bme = ethnic >= FIRST_BME
    smoker = _draw_by_group(
        rng, 0.6 * deprivation - 1.2 * bme + 0.9 * teen, year, _trend(SMOKING, scale.years)
    )
    draw = rng.random(n)
    multiplicity = 1 + (draw < TWIN_SHARE + TRIPLET_SHARE) + (draw < TRIPLET_SHARE)
    preterm_eta = 0.3 * deprivation + 0.5 * smoker + 0.3 * teen
    preterm_share = np.choose(
        multiplicity - 1,
        [_calibrated(preterm_eta, SINGLETON_PRETERM), np.full(n, TWIN_PRETERM), np.full(n, TRIPLET_PRETERM)],
    )
    preterm = rng.random(n) < preterm_share
    spontaneous_eta = -0.03 * (age - 30) - 1.3 * (multiplicity > 1) - 0.5 * preterm + 0.1 * deprivation
    spontaneous = _draw_by_group(rng, spontaneous_eta, year, _trend(SPONTANEOUS_DELIVERY, scale.years))
    method = np.where(
        spontaneous,
        rng.choice(SPONTANEOUS_METHODS, size=n, p=SPONTANEOUS_SHARES),
        rng.choice(OTHER_METHODS, size=n, p=OTHER_METHOD_SHARES),
    )
    deliveries = {
        "day": day,
        "lsoa": lsoa,
        "postcode": geo.draw_postcodes(rng, lsoa),
        "typo_postcode": geo.draw_postcodes(rng, lsoa),
        "in_maternity": (rng.random(n) >= BORN_ELSEWHERE) & (day >= calendar.start),
        "deprivation": deprivation,
        "teen": teen,
        "mother_age": age,
        "mother_birth_day": day - np.round(age * 365.25).astype(np.int64),
        "mother_nhs": _nhs_numbers(rng, n, MOTHER_NHS_BASES),
        "ethnic": ethnic,
        "smoker": smoker,
        "multiplicity": multiplicity,
        "gestation": _gestations(rng, preterm, multiplicity > 1),
        "method": method,
    }
    _breastfeeding(rng, deliveries, year, scale.years)
    babies = _babies(rng, deliveries)
    live_babies = np.bincount(babies["delivery"], weights=babies["live"], minlength=n)
    deliveries["any_live"] = live_babies > 0
    return Births(deliveries, babies)


# --------------------------------------------------------------------------------------------
# Health visiting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewSpec:
    code: str
    due_day: int
    earliest_day: int
    delay_shape: float
    delay_scale: float
    done_share: float
    recorded: tuple[float, float]
    recording_spread: float  # how much of the centre effect applies
    breastfed: str
    totally: str


REVIEWS = (
    ReviewSpec("NBV", 14, 7, 1.5, 2.5, 0.94, NBV_RECORDED, 1.0, "bf_nbv", "total_nbv"),
    ReviewSpec("6-8W", 56, 42, 2.5, 5.0, 0.92, SIX_EIGHT_WEEK_RECORDED, 0.4, "bf_6_8", "total_6_8"),
)
FEEDING_STATUSES = ("TOTAL", "PARTIAL", "NONE")


def _review_rows(
    rng: np.random.Generator,
    spec: ReviewSpec,
    kind: int,
    child: Frame,
    geo: Geography,
    calendar: Calendar,
) -> Frame:
    due = child["birth_day"] + spec.due_day
    quarter = calendar.quarter_of(due)
    rows = _take(child, quarter >= 0)
    due, quarter = due[quarter >= 0], quarter[quarter >= 0]
    centre = geo.lsoa_centre[geo.postcode_lsoa[rows["postcode"]]]
    deprivation = geo.deprivation[geo.postcode_lsoa[rows["postcode"]]]
    done_eta = geo.review_done_effect[centre] - 0.2 * deprivation
    done = rng.random(_rows(rows)) < _calibrated(done_eta, spec.done_share)
    delay = spec.earliest_day + np.round(rng.gamma(spec.delay_shape, spec.delay_scale, _rows(rows)))
    year = quarter // 4
    recorded_eta = spec.recording_spread * geo.nbv_recording_effect[centre]
    recorded_share = np.zeros(_rows(rows))
    for index, target in enumerate(_trend(spec.recorded, calendar.years)):
        members = year == index
        recorded_share[members] = _calibrated(recorded_eta[members], target, done[members].astype(float))
    recorded = done & (rng.random(_rows(rows)) < recorded_share)
    breastfed, totally = rows[spec.breastfed], rows[spec.totally]
    return {
        "child": rows["child"],
        "nhs": rows["nhs"],
        "birth_day": rows["birth_day"],
        "postcode": rows["postcode"],
        "kind": np.full(_rows(rows), kind),
        "due": due,
        "quarter": quarter,
        "done": done,
        "contact": rows["birth_day"] + delay.astype(np.int64),
        "recorded": recorded,
        "status": np.where(totally, 0, np.where(breastfed, 1, 2)),
    }


def simulate_reviews(births: Births, geo: Geography, calendar: Calendar, seed: int) -> Ordered:
    rng = _rng(seed, "health visiting")
    babies, deliveries = births.babies, births.deliveries
    child = np.flatnonzero(babies["live"] & ~babies["moved_out"])
    delivery = babies["delivery"][child]
    moved = rng.random(child.size) < MOVED_BEFORE_REVIEW
    new_home = geo.draw_postcodes(rng, geo.draw_lsoas(rng, child.size))
    children = {
        "child": child,
        "nhs": babies["nhs"][child],
        "birth_day": deliveries["day"][delivery],
        "postcode": np.where(moved, new_home, deliveries["postcode"][delivery]),
        **{name: deliveries[name][delivery] for name in ("bf_nbv", "bf_6_8", "total_nbv", "total_6_8")},
    }
    frames = [_review_rows(rng, spec, kind, children, geo, calendar) for kind, spec in enumerate(REVIEWS)]
    reviews = _concat(frames)
    order = np.lexsort([reviews[key] for key in ("kind", "child", "due")])
    return Ordered(reviews, order)


# --------------------------------------------------------------------------------------------
# NCMP
# --------------------------------------------------------------------------------------------


def _uk90(table: dict[str, NDArray], age: Floats, male: Bools, column: int) -> Floats:
    boys = np.interp(age, table["M"][:, 0], table["M"][:, column])
    girls = np.interp(age, table["F"][:, 0], table["F"][:, column])
    return np.where(male, boys, girls)


def _cohort_children(
    rng: np.random.Generator, births: Births, geo: Geography, scale: Scale, born: tuple[int, int]
) -> Frame:
    """Children of one school year: resident babies who stayed, plus children drawn afresh."""
    babies, deliveries = births.babies, births.deliveries
    delivery = babies["delivery"]
    birth_day = deliveries["day"][delivery]
    eligible = np.flatnonzero(
        babies["live"] & ~babies["moved_out"] & (birth_day >= born[0]) & (birth_day <= born[1])
    )
    stayed = eligible[rng.random(eligible.size) < NCMP_STAYERS]
    moved = rng.random(stayed.size) < NCMP_MOVED_HOME
    home = np.where(
        moved,
        geo.draw_postcodes(rng, geo.draw_lsoas(rng, stayed.size)),
        deliveries["postcode"][delivery[stayed]],
    )
    first_birth = int(deliveries["day"][0])
    days_before_births = max(0, min(born[1], first_birth - 1) - born[0] + 1)
    resident_per_day = scale.births_per_year / 365.25 / (1 - BORN_ELSEWHERE)
    fresh = round(resident_per_day * days_before_births + NCMP_MOVERS_IN * eligible.size)
    fresh_lsoa = geo.draw_lsoas(rng, fresh)
    return {
        "baby": np.concatenate([stayed, np.full(fresh, -1)]),
        "nhs": np.concatenate([babies["nhs"][stayed], np.zeros(fresh, np.int64)]),
        "birth_day": np.concatenate([birth_day[stayed], rng.integers(born[0], born[1] + 1, fresh)]),
        "male": np.concatenate([babies["male"][stayed], rng.random(fresh) < 0.512]),
        "ethnic": np.concatenate(
            [
                deliveries["ethnic"][delivery[stayed]],
                _ethnic_categories(rng, geo.bme_share[fresh_lsoa]),
            ]
        ),
        "postcode": np.concatenate([home, geo.draw_postcodes(rng, fresh_lsoa)]),
    }


def _measurements(
    rng: np.random.Generator, children: Frame, geo: Geography, year: int, reception: bool
) -> Frame:
    lsoa = geo.postcode_lsoa[children["postcode"]]
    deprivation = geo.deprivation[lsoa]
    centre = geo.lsoa_centre[lsoa]
    n = _rows(children)
    measured_eta = geo.ncmp_participation_effect[centre] - 0.3 * deprivation
    measured = rng.random(n) < _calibrated(measured_eta, NCMP_MEASURED)
    day = _weekday_on_or_after(rng.integers(_day(year, 10, 1), _day(year + 1, 6, 30) + 1, n))
    age = (day - children["birth_day"]) / 365.25
    male = children["male"]
    bme = children["ethnic"] >= FIRST_BME
    z = 0.33 * deprivation + (0 if reception else 0.2) * bme + rng.normal(0, 1.0 if reception else 1.1, n)
    target = (RECEPTION_OBESITY if reception else YEAR6_OBESITY).get(year, 0.10 if reception else 0.22)
    if measured.any():
        z = z + OBESE_Z - np.quantile(z[measured], 1 - target)
    box_cox_l = _uk90(UK90_BMI, age, male, 1)
    bmi = _uk90(UK90_BMI, age, male, 2) * (
        1 + box_cox_l * _uk90(UK90_BMI, age, male, 3) * np.clip(z, -4, 4)
    ) ** (1 / box_cox_l)
    height = _uk90(MEDIAN_HEIGHT, age, male, 1) * (1 + HEIGHT_CV * rng.normal(0, 1, n))
    height_tenths = np.round(height * 10).astype(np.int64)
    weight_tenths = np.round(bmi * (height_tenths / 1000) ** 2 * 10).astype(np.int64)
    return {
        "measured": measured,
        "measurement_day": day,
        "height": height_tenths,
        "weight": weight_tenths,
        "reason": rng.choice(3, size=n, p=[0.4, 0.45, 0.15]),
        "school": _school(rng, geo, lsoa),
    }


def _school(rng: np.random.Generator, geo: Geography, lsoa: Ints) -> Ints:
    """The catchment school mostly; otherwise a neighbouring catchment's."""
    school = geo.lsoa_school[lsoa]
    step = np.where(rng.random(lsoa.size) < 0.15, rng.choice([-1, 1], lsoa.size), 0)
    return np.clip(school + step, 0, geo.n_schools - 1)


def simulate_ncmp(births: Births, geo: Geography, calendar: Calendar, scale: Scale, seed: int) -> Ordered:
    rng = _rng(seed, "ncmp")
    frames = []
    for index in range(scale.years):
        year = scale.first_year + index
        for reception in (True, False):
            age = 4 if reception else 10
            born = (_day(year - age - 1, 9, 1), _day(year - age, 8, 31))
            children = _cohort_children(rng, births, geo, scale, born)
            measured = _measurements(rng, children, geo, year, reception)
            frames.append(
                {
                    **children,
                    **measured,
                    "academic_year": np.full(_rows(children), index),
                    "reception": np.full(_rows(children), reception),
                }
            )
    ncmp = _concat(frames)
    fresh = np.flatnonzero(ncmp["baby"] < 0)
    nhs = ncmp["nhs"].copy()
    nhs[fresh] = _nhs_numbers(rng, fresh.size, SCHOOL_CHILD_NHS_BASES)
    ncmp["nhs"] = nhs
    keys = [ncmp[key] for key in ("birth_day", "school")]
    order = np.lexsort([*keys, ~ncmp["reception"], ncmp["academic_year"]])
    return Ordered(ncmp, order)


# --------------------------------------------------------------------------------------------
# Formatting: numpy -> pyarrow strings, and deterministic noise
# --------------------------------------------------------------------------------------------


def _spelt(values: Ints, blank: Bools | None, spell: Callable[[Ints, Bools | None], pa.Array]) -> pa.Array:
    """spell(values, blank), but a narrow range (days, weeks, grams) is spelt once per value in
    it and looked up: Arrow's take is several times faster than its number and date casts."""
    if values.size >= 1024:
        low, high = int(values.min()), int(values.max())
        if high - low < values.size // 4:
            words = spell(np.arange(low, high + 1), None)
            return words.take(pa.array(values - low, type=pa.int64(), mask=blank))
    return spell(values, blank)


def _ints(values: Ints, blank: Bools | None = None) -> pa.Array:
    return _spelt(values, blank, lambda v, b: pc.cast(pa.array(v, type=pa.int64(), mask=b), pa.string()))


def _tenths(values: Ints, blank: Bools | None = None) -> pa.Array:
    whole, tenth = np.divmod(values, 10)
    return pc.binary_join_element_wise(_ints(whole, blank), _ints(tenth), ".")


def _labels(index: Ints, labels: Sequence[str], blank: Bools | None = None) -> pa.Array:
    return pa.array(list(labels), type=pa.string()).take(
        pa.array(np.asarray(index, dtype=np.int32), mask=blank)
    )


def _flags(values: Bools, blank: Bools | None = None) -> pa.Array:
    return _labels(np.where(values, 0, 1), ("Y", "N"), blank)


def _iso_dates(days: Ints, blank: Bools | None = None) -> pa.Array:
    return _spelt(
        days,
        blank,
        lambda d, b: pc.cast(pa.array(d.astype("datetime64[D]"), type=pa.date32(), mask=b), pa.string()),
    )


def _ids(prefix: str, sequence: Ints, width: int) -> pa.Array:
    return pc.binary_join_element_wise(
        prefix, pc.utf8_lpad(_ints(sequence + 1), width=width, padding="0"), ""
    )


Edit = Callable[[pa.Array, Bools], pa.Array]


@dataclass(frozen=True)
class Edited:
    """A text column with masked edits queued, to apply in order.

    Each edit touches a few rows in a thousand: they are applied to the touched rows only and
    put back in one pass, rather than copying the whole column once per edit.
    """

    values: pa.Array
    edits: tuple[tuple[Bools, Edit], ...] = ()

    def then(self, mask: Bools, edit: Edit) -> Edited:
        return Edited(self.values, (*self.edits, (mask, edit)))

    def finished(self) -> pa.Array:
        touched = np.zeros(len(self.values), dtype=bool)
        for mask, _ in self.edits:
            touched |= mask
        rows = np.flatnonzero(touched)
        if rows.size == 0:
            return self.values
        subset = self.values.take(pa.array(rows))
        for mask, edit in self.edits:
            local = mask[rows]
            if local.any():
                subset = edit(subset, local)
        # one take from the column and its edited rows: faster than replace_with_mask on text
        source = np.arange(len(self.values))
        source[rows] = len(self.values) + np.arange(rows.size)
        return pa.concat_arrays([self.values, subset]).take(pa.array(source))


Text = pa.Array | Edited


def _edited(values: Text) -> Edited:
    return values if isinstance(values, Edited) else Edited(values)


def _finished(columns: dict[str, Text]) -> dict[str, pa.Array]:
    return {name: _edited(values).finished() for name, values in columns.items()}


def _put(values: Text, mask: Bools, replacement: str | None | pa.Array) -> Edited:
    """Replace the masked rows; an array replacement holds one value per masked row."""

    def put(subset: pa.Array, rows: Bools) -> pa.Array:
        fill = replacement
        if fill is None or isinstance(fill, str):
            fill = pa.array([fill] * int(np.count_nonzero(rows)), type=pa.string())
        return pc.replace_with_mask(subset, pa.array(rows), fill)

    return _edited(values).then(mask, put)


class Noise:
    """Deterministic masks and draws; rows of one group (one delivery) always agree."""

    def __init__(self, rng: np.random.Generator, groups: Ints) -> None:
        """groups: consecutive group numbers from 0, one per row."""
        self.rng = rng
        self.groups = groups
        self.size = int(groups.max()) + 1 if groups.size else 0
        self.one_row_each = self.size == groups.size  # then groups is 0, 1, 2, ...: no gather

    def _per_row(self, values: NDArray) -> NDArray:
        return values if self.one_row_each else values[self.groups]

    def mask(self, rate: float) -> Bools:
        return self._per_row(self.rng.random(self.size) < rate)

    def bad(self, kind: str) -> Bools:
        return self.mask(BAD_INPUT_RATES[kind])

    def integers(self, low: int, high: int) -> Ints:
        return self._per_row(self.rng.integers(low, high, self.size))

    def choose(self, mask: Bools, options: Sequence[str]) -> pa.Array:
        return _labels(self.integers(0, len(options))[mask], options)


def _group_ids(*keys: Ints) -> Ints:
    """Consecutive rows with equal keys form one group."""
    if keys[0].size == 0:
        return keys[0]
    change = np.zeros(keys[0].size, dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.cumsum(change) - 1


def _with_unknowns(
    values: Text,
    noise: Noise,
    explicit: str | None = None,
    unknown_codes: Sequence[str] = (),
) -> Edited:
    """Blanks, an explicit unknown code and codes outside the code list, at low rates."""
    values = _put(values, noise.bad("blank_field"), None)
    if explicit is not None:
        values = _put(values, noise.bad("explicit_unknown"), explicit)
    if unknown_codes:
        mask = noise.bad("unknown_code")
        values = _put(values, mask, noise.choose(mask, unknown_codes))
    return values


def _transform(values: Text, mask: Bools, function: Callable[[pa.Array], pa.Array]) -> Edited:
    def transform(subset: pa.Array, rows: Bools) -> pa.Array:
        chosen = pa.array(rows)
        return pc.replace_with_mask(subset, chosen, function(subset.filter(chosen)))

    return _edited(values).then(mask, transform)


def _nhs_text(noise: Noise, numbers: Ints, present: Bools | None = None) -> pa.Array:
    numbers = numbers.copy()
    broken = noise.bad("invalid_nhs_number")
    numbers[broken] = numbers[broken] // 10 * 10 + (numbers[broken] % 10 + noise.integers(1, 10)[broken]) % 10
    blank = noise.bad("blank_nhs_number")
    if present is not None:
        blank |= ~present
    return _ints(numbers, blank)


def _postcode_text(noise: Noise, postcode: Ints, geo: Geography) -> Edited:
    """The resident's postcode, now and then in odd case or spacing, unknown or outside."""
    outside = noise.bad("postcode_outside_area")
    outside_index = geo.n_city_postcodes + noise.integers(0, len(geo.postcode) - geo.n_city_postcodes)
    text = geo.postcode.take(pa.array(np.where(outside, outside_index, postcode)))
    unknown = noise.bad("postcode_unknown")
    serial = noise.integers(0, 4000)[unknown]
    made_up = pc.binary_join_element_wise(
        "DC0 ",
        _ints(serial // 400),
        _labels(serial % 20, POSTCODE_UNIT_LETTERS),
        _labels(serial // 20 % 20, POSTCODE_UNIT_LETTERS),
        "",
    )
    text = _put(text, unknown, pc.if_else(pa.array(serial < 1200), NO_FIXED_ABODE, made_up))
    text = _put(text, noise.bad("blank_field"), None)
    text = _transform(text, noise.bad("postcode_lower_case"), pc.utf8_lower)
    text = _transform(text, noise.bad("postcode_no_space"), lambda a: pc.replace_substring(a, " ", ""))
    return _transform(
        text,
        noise.bad("postcode_extra_spaces"),
        lambda a: pc.binary_join_element_wise(" ", pc.replace_substring(a, " ", "  "), ""),
    )


def _ethnic_text(noise: Noise, ethnic: Ints) -> Edited:
    ethnic = np.where(noise.mask(0.006), NOT_STATED, ethnic)
    ethnic = np.where(noise.mask(0.003), NOT_KNOWN, ethnic)
    return _with_unknowns(_labels(ethnic, ETHNIC_CODES), noise, unknown_codes=("Q", "I", "O", "WB"))


def _required_date(noise: Noise, days: Ints) -> Edited:
    text = _put(_iso_dates(days), noise.bad("blank_required_date"), None)
    garbled = noise.bad("garbled_required_date")
    return _put(text, garbled, noise.choose(garbled, GARBLED_DATES))


def _impossible(noise: Noise, values: Ints, options: Sequence[int]) -> Ints:
    mask = noise.bad("impossible_value")
    choice = np.asarray(options)[noise.integers(0, len(options))]
    return np.where(mask, choice, values)


# --------------------------------------------------------------------------------------------
# Extracts: which record goes into which file, in which version
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    feed: str
    columns: dict[str, pa.Array]
    date_columns: tuple[str, ...]
    file_index: Ints  # per row, sorted
    file_days: Ints  # extract date of each file

    @property
    def rows(self) -> int:
        return self.file_index.size


def _occurrences(home: Ints, resend: Bools) -> tuple[Ints, Ints, Bools]:
    """Each record in its home extract, and resent ones again in the next; sorted by file.

    Returns record index, file index and whether the row is the first (uncorrected) version
    of a resent record.
    """
    record = np.arange(home.size)
    again = np.flatnonzero(resend)
    records = np.concatenate([record, again])
    files = np.concatenate([home, home[again] + 1])
    first = np.concatenate([resend, np.zeros(again.size, dtype=bool)])
    order = np.lexsort((records, files))
    return records[order], files[order], first[order]


MATERNITY_FAULTS = ("smoking", "weight", "gestation", "postcode", "method", "breastfeeding")


def maternity_extract(births: Births, geo: Geography, calendar: Calendar, seed: int) -> Extract:
    rng = _rng(seed, "maternity extract")
    d, b = births.deliveries, births.babies
    in_window = d["in_maternity"]
    baby = np.flatnonzero(in_window[b["delivery"]])
    delivery = b["delivery"][baby]
    home = calendar.quarter_of(d["day"])
    resend = (rng.random(_rows(d)) < MATERNITY_RESEND) & (home < calendar.quarters - 1)
    fault = np.where(resend, rng.integers(0, len(MATERNITY_FAULTS), _rows(d)), -1)
    record, file, first = _occurrences(home[delivery], resend[delivery])
    dl, bb = delivery[record], baby[record]
    fault = np.where(first, fault[dl], -1)
    per_delivery = Noise(rng, _group_ids(file, dl))
    per_baby = Noise(rng, np.arange(record.size))

    def faulty(name: str) -> Bools:
        return fault == MATERNITY_FAULTS.index(name)

    day = d["day"][dl]
    mother_birth = d["mother_birth_day"][dl].copy()
    after = per_delivery.bad("mother_born_after_delivery")
    mother_birth[after] = day[after] + per_delivery.integers(1, 15)[after]
    postcode = np.where(faulty("postcode"), d["typo_postcode"][dl], d["postcode"][dl])
    gestation = _impossible(per_baby, d["gestation"][dl], (50, 99, 4, 0))
    weight = _impossible(per_baby, b["weight"][bb], (12000, 34500, 35, 0))
    live = b["live"][bb]
    method = _labels(d["method"][dl], [str(i) for i in range(10)])
    breastfeeding = _flags(d["bf_initiated"][dl], ~d["any_live"][dl])
    columns: dict[str, Text] = {
        "birth_id": _put(_ids("B", record, 8), per_baby.bad("blank_key"), None),
        "delivery_id": _ids("D", np.cumsum(in_window)[dl] - 1, 8),
        "mother_nhs_number": _nhs_text(per_delivery, d["mother_nhs"][dl]),
        "baby_nhs_number": _nhs_text(per_baby, b["nhs"][bb], b["has_nhs"][bb]),
        "mother_birth_date": _iso_dates(mother_birth, per_delivery.bad("blank_field")),
        "mother_postcode": _postcode_text(per_delivery, postcode, geo),
        "mother_ethnic_category": _ethnic_text(per_delivery, d["ethnic"][dl]),
        "delivery_date": _required_date(per_delivery, day),
        "gestation_weeks": _ints(gestation, faulty("gestation") | per_baby.bad("blank_field")),
        "birth_weight_grams": _put(_with_unknowns(_ints(weight), per_baby, "9999"), faulty("weight"), "9999"),
        "live_birth": _flags(live),
        "delivery_method": _put(
            _with_unknowns(method, per_delivery, "X", ("11", "10", "C")), faulty("method"), "X"
        ),
        "smoking_at_delivery": _put(
            _with_unknowns(_flags(d["smoker"][dl]), per_delivery, "U", ("YES",)),
            faulty("smoking"),
            "U",
        ),
        "breastfeeding_initiated": _put(
            _with_unknowns(breastfeeding, per_delivery, "U"), faulty("breastfeeding"), None
        ),
    }
    return Extract(
        "maternity", _finished(columns), ("mother_birth_date", "delivery_date"), file, calendar.extract_day
    )


def health_visiting_extract(reviews: Ordered, geo: Geography, calendar: Calendar, seed: int) -> Extract:
    rng = _rng(seed, "health visiting extract")
    home = reviews["quarter"]
    contact = reviews["contact"]
    done = reviews["done"]
    late = done & (contact > calendar.extract_day[home])
    degraded = rng.random(home.size) < REVIEW_RESEND
    resend = (late | degraded | (rng.random(home.size) < REVIEW_RESEND / 2)) & (home < calendar.quarters - 1)
    record, file, first = _occurrences(home, resend)
    picked = reviews.rows(record)
    noise = Noise(rng, np.arange(record.size))
    contact = contact[record].copy()
    not_yet = done[record] & (contact > calendar.extract_day[file])
    typo = noise.bad("date_after_extract")
    contact[typo] = contact[typo] + 365
    status = _labels(
        picked["status"],
        FEEDING_STATUSES,
        ~picked["recorded"] | not_yet | (first & degraded[record]),
    )
    status = _transform(
        _with_unknowns(status, noise, unknown_codes=("BREAST", "MIXED")),
        noise.bad("lower_case_code"),
        pc.utf8_lower,
    )
    review_type = _transform(
        _labels(picked["kind"], [r.code for r in REVIEWS]),
        noise.bad("lower_case_code"),
        pc.utf8_lower,
    )
    columns: dict[str, Text] = {
        "review_id": _put(_ids("R", record, 9), noise.bad("blank_key"), None),
        "child_nhs_number": _nhs_text(noise, picked["nhs"]),
        "child_birth_date": _iso_dates(picked["birth_day"], noise.bad("blank_field")),
        "child_postcode": _postcode_text(noise, picked["postcode"], geo),
        "review_type": review_type,
        "due_date": _required_date(noise, picked["due"]),
        "contact_date": _iso_dates(contact, ~done[record] | not_yet),
        "feeding_status": status,
    }
    return Extract(
        "health_visiting",
        _finished(columns),
        ("child_birth_date", "due_date", "contact_date"),
        file,
        calendar.extract_day,
    )


def ncmp_extract(ncmp: Ordered, geo: Geography, calendar: Calendar, seed: int) -> Extract:
    rng = _rng(seed, "ncmp extract")
    home = ncmp["academic_year"]
    resend = (rng.random(home.size) < NCMP_RESEND) & (home < calendar.years - 1)
    record, file, first = _occurrences(home, resend)
    picked = ncmp.rows(record)
    noise = Noise(rng, np.arange(record.size))
    measured = picked["measured"]
    measurement_day = picked["measurement_day"].copy()
    typo = noise.bad("date_after_extract")
    measurement_day[typo] = measurement_day[typo] + 365
    fault = np.where(first, noise.integers(0, 2), -1)  # resent: height 10 cm out, or weight missing
    height = _impossible(noise, picked["height"], (3000, 11, 0))
    height = np.where(fault == 0, height + 100, height)
    weight = _impossible(noise, picked["weight"], (3500, 21, 0))
    year = calendar.first_year + home[record]
    columns: dict[str, Text] = {
        "ncmp_id": _put(_ids("N", record, 9), noise.bad("blank_key"), None),
        "child_nhs_number": _nhs_text(noise, picked["nhs"]),
        "academic_year": _academic_year_labels(year),
        "school_year": _labels(np.where(picked["reception"], 0, 1), ("R", "6")),
        "school_code": _ints(900_001 + picked["school"]),
        "sex": _put(
            _labels(np.where(picked["male"], 0, 1), ("M", "F")),
            noise.bad("blank_field"),
            None,
        ),
        "birth_date": _iso_dates(picked["birth_day"], noise.bad("blank_field")),
        "child_postcode": _postcode_text(noise, picked["postcode"], geo),
        "ethnic_category": _ethnic_text(noise, picked["ethnic"]),
        "measurement_date": _iso_dates(measurement_day, ~measured),
        "height_cm": _tenths(height, ~measured | noise.bad("blank_field")),
        "weight_kg": _tenths(weight, ~measured | noise.bad("blank_field") | (fault == 1)),
        "not_measured_reason": _labels(picked["reason"], ("OPTED_OUT", "ABSENT", "OTHER"), measured),
    }
    return Extract(
        "ncmp", _finished(columns), ("birth_date", "measurement_date"), file, calendar.ncmp_extract_day
    )


def _academic_year_labels(year: Ints) -> pa.Array:
    """2023 -> '2023/24'."""
    return pc.binary_join_element_wise(
        _ints(year), pc.utf8_lpad(_ints((year + 1) % 100), width=2, padding="0"), "/"
    )


# --------------------------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileStyle:
    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" or "cp1252"
    crlf: bool = False
    dates: str = "iso"  # "iso", "dmy" or "mixed"
    header_variant: bool = False
    extra_column: bool = False
    quoted: bool = False


def _file_styles(rng: np.random.Generator, count: int) -> list[FileStyle]:
    """Deal each quirk to a few files; every quirk reaches at least one file of the feed."""

    def dealt(share: float) -> int:
        return max(1, round(share * count))

    styles = [FileStyle() for _ in range(count)]
    order = rng.permutation(count)
    bom, cp1252 = dealt(FILE_QUIRK_SHARES["utf8_bom"]), dealt(FILE_QUIRK_SHARES["windows_1252"])
    for position, index in enumerate(order[: bom + cp1252]):
        encoding = "utf-8-sig" if position < bom else "cp1252"
        styles[index] = replace(styles[index], encoding=encoding, extra_column=(encoding == "cp1252"))
    order = rng.permutation(count)
    dmy, mixed = dealt(FILE_QUIRK_SHARES["dates_dmy"]), dealt(FILE_QUIRK_SHARES["dates_mixed"])
    for position, index in enumerate(order[: dmy + mixed]):
        styles[index] = replace(styles[index], dates="dmy" if position < dmy else "mixed")
    for quirk, field in (
        ("crlf", "crlf"),
        ("header_variant", "header_variant"),
        ("extra_column", "extra_column"),
        ("quoted", "quoted"),
    ):
        for index in rng.choice(count, size=min(count, dealt(FILE_QUIRK_SHARES[quirk])), replace=False):
            styles[index] = replace(styles[index], **{field: True})
    return styles


def _dmy(iso: pa.Array, rows: Bools) -> pa.Array:
    """DD/MM/YYYY for the chosen rows; values that are not ISO dates stay as they are."""
    looks_iso = pc.match_substring_regex(iso, r"^\d{4}-\d{2}-\d{2}$")
    dmy = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(iso, 8, 10),
        pc.utf8_slice_codeunits(iso, 5, 7),
        pc.utf8_slice_codeunits(iso, 0, 4),
        "/",
    )
    return pc.if_else(pc.and_kleene(looks_iso, pa.array(rows)), dmy, iso)


def _header_variant(rng: np.random.Generator, names: Sequence[str]) -> list[str]:
    """Upper case, title case or padded with spaces, as spreadsheets and old systems do."""

    def title(name: str) -> str:
        return "_".join(p.upper() if p in ("id", "nhs") else p.capitalize() for p in name.split("_"))

    spellings = rng.integers(0, 4, len(names))
    return [
        (name.upper(), title(name), f" {title(name)} ", name)[spelling]
        for name, spelling in zip(names, spellings, strict=True)
    ]


def _extra_column(rng: np.random.Generator, rows: int, non_ascii: bool) -> tuple[str, pa.Array]:
    if non_ascii:
        pick = rng.integers(0, len(COMMENTS), rows)
        blank = rng.random(rows) >= 0.03
        if rows:
            blank[0], pick[0] = False, 1
        return "comments", _labels(pick, COMMENTS, blank)
    name, value = [("record_status", "ACTIVE"), ("source_system", "CHIS 4.2"), ("extract_run", "nightly")][
        int(rng.integers(0, 3))
    ]
    return name, pa.array([value] * rows, type=pa.string())


def _write_csv(path: Path, header: Sequence[str], arrays: Sequence[pa.Array], style: FileStyle) -> None:
    """Arrow writes the rows straight to the file; only Windows-1252 files pass through memory."""
    eol = "\r\n" if style.crlf else "\n"
    header_line = ",".join(f'"{name}"' if style.quoted else name for name in header) + eol
    table = pa.Table.from_arrays(list(arrays), names=[f"c{i}" for i in range(len(arrays))])
    options = pacsv.WriteOptions(
        include_header=False, quoting_style="all_valid" if style.quoted else "none", eol=eol
    )
    if style.encoding == "cp1252":
        body = pa.BufferOutputStream()
        pacsv.write_csv(table, body, write_options=options)
        path.write_bytes((header_line + body.getvalue().to_pybytes().decode("utf-8")).encode("cp1252"))
        return
    with pa.OSFile(str(path), "wb") as sink:
        if style.encoding == "utf-8-sig":
            sink.write(codecs.BOM_UTF8)
        sink.write(header_line.encode())
        pacsv.write_csv(table, sink, write_options=options)


def write_table(
    path: Path,
    columns: dict[str, pa.Array],
    style: FileStyle = FileStyle(),
    date_columns: Sequence[str] = (),
    rng: np.random.Generator | None = None,
) -> int:
    """Write one CSV file in the given style; returns its data rows."""
    rng = rng if rng is not None else np.random.default_rng(0)
    names = list(columns)
    arrays = list(columns.values())
    rows = len(arrays[0])
    if style.dates != "iso":
        as_dmy = np.ones(rows, dtype=bool) if style.dates == "dmy" else rng.random(rows) < 0.5
        arrays = [_dmy(a, as_dmy) if n in date_columns else a for n, a in zip(names, arrays, strict=True)]
    if style.extra_column:
        name, values = _extra_column(rng, rows, non_ascii=style.encoding == "cp1252")
        names, arrays = [*names, name], [*arrays, values]
    header = _header_variant(rng, names) if style.header_variant else names
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(path, header, arrays, style)
    return rows


def _yyyymmdd(day: int) -> str:
    return str(np.datetime64(int(day), "D")).replace("-", "")


def write_extract(landing: Path, extract: Extract, seed: int) -> list[tuple[Path, int]]:
    rng = _rng(seed, f"{extract.feed} files")
    styles = _file_styles(rng, extract.file_days.size)
    bounds = np.searchsorted(extract.file_index, np.arange(extract.file_days.size + 1))
    written = []
    for index, style in enumerate(styles):
        start, stop = int(bounds[index]), int(bounds[index + 1])
        columns = {n: a.slice(start, stop - start) for n, a in extract.columns.items()}
        path = landing / extract.feed / f"{extract.feed}_{_yyyymmdd(extract.file_days[index])}.csv"
        written.append((path, write_table(path, columns, style, extract.date_columns, rng)))
    return written


def _pcd7(postcode: pa.Array) -> pa.Array:
    """ONS 7-character form: outward code padded to four characters, no separating space."""
    parts = pc.split_pattern(postcode, " ")
    outward = pc.list_element(parts, 0)
    inward = pc.list_element(parts, 1)
    return pc.binary_join_element_wise(pc.utf8_rpad(outward, width=4, padding=" "), inward, "")


def _geojson(codes: Sequence[str], polygons: Floats) -> bytes:
    """FeatureCollection of LSOA polygons, built with Arrow string kernels."""
    points = [
        pc.binary_join_element_wise("[", _floats(polygons[:, k, 0]), ",", _floats(polygons[:, k, 1]), "]", "")
        for k in range(polygons.shape[1])
    ]
    ring = pc.binary_join_element_wise(*points, ",")
    features = pc.binary_join_element_wise(
        '{"type":"Feature","properties":{"lsoa_code":"',
        pa.array(list(codes)),
        '"},"geometry":{"type":"Polygon","coordinates":[[',
        ring,
        "]]}}",
        "",
    )
    body = ",\n".join(features.to_pylist())
    collection = (
        f'{{"type":"FeatureCollection","name":"demo_city_lsoa_boundaries","features":[\n{body}\n]}}\n'
    )
    return collection.encode()


def _floats(values: Floats) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.float64()), pa.string())


def write_reference(landing: Path, geo: Geography) -> list[tuple[Path, int]]:
    folder = landing / "reference"
    n = geo.n_lsoas
    codes = geo.lsoa_code
    written = [
        (
            folder / "postcode_lsoa.csv",
            write_table(
                folder / "postcode_lsoa.csv",
                {"postcode": _pcd7(geo.postcode), "lsoa_code": pa.array(codes[geo.postcode_lsoa])},
                FileStyle(encoding="utf-8-sig", crlf=True),
            ),
        ),
        (
            folder / "lsoa_centre.csv",
            write_table(
                folder / "lsoa_centre.csv",
                {
                    "lsoa_code": pa.array(codes[:n]),
                    "centre_code": _labels(geo.lsoa_centre, geo.centre_code),
                    "centre_name": _labels(geo.lsoa_centre, geo.centre_name),
                    "la_code": _labels(geo.lsoa_la, geo.la_code),
                    "la_name": _labels(geo.lsoa_la, geo.la_name),
                },
                FileStyle(encoding="cp1252"),
            ),
        ),
        (
            folder / "lsoa_imd.csv",
            write_table(
                folder / "lsoa_imd.csv", {"lsoa_code": pa.array(codes), "imd_decile": _ints(geo.imd_decile)}
            ),
        ),
    ]
    boundaries = folder / "lsoa_boundaries.geojson"
    boundaries.write_bytes(_geojson(codes[:n], geo.polygons))
    return [*written, (boundaries, n)]


def _marker_text(scale: Scale, seed: int) -> str:
    flags = ", ".join(f"{f.name}={getattr(scale, f.name)}" for f in fields(scale))
    return (
        "SYNTHETIC DEMO DATA - NOT REAL PEOPLE\n\n"
        "Every file in this folder was made up by cc_warehouse.demo for a fictional city\n"
        "(Demo City, local authority code E06999999, mapped onto the Dogger Bank in the\n"
        "North Sea). Postcodes, LSOA codes, centres, schools and NHS numbers are fictional:\n"
        "NHS numbers start with 9, outside the ranges issued to patients. The extracts carry\n"
        "deliberate data-quality problems, at low rates, to exercise the loader.\n\n"
        "The public demo pseudonymisation key is accepted only for a folder holding this file.\n"
        "Never copy real extracts into it.\n\n"
        f"Generator settings: seed={seed}, {flags}\n"
    )


# --------------------------------------------------------------------------------------------
# Orchestration and command line
# --------------------------------------------------------------------------------------------


class LandingError(Exception):
    """The landing folder cannot take demo data."""


def _prepare_landing(landing: Path) -> None:
    """Refuse a folder of real extracts; clear the files of an earlier demo."""
    marker = landing / DEMO_MARKER
    if landing.exists() and any(landing.iterdir()) and not marker.exists():
        raise LandingError(
            f"{landing} is not empty and has no {DEMO_MARKER}: refusing to mix demo data with real extracts"
        )
    for pattern in (
        "maternity/maternity_*.csv",
        "health_visiting/health_visiting_*.csv",
        "ncmp/ncmp_*.csv",
        *(f"reference/{name}" for name in REFERENCE_FILES),
    ):
        for old in landing.glob(pattern):
            old.unlink()
    landing.mkdir(parents=True, exist_ok=True)


def validate(scale: Scale) -> list[str]:
    problems = []
    if scale.las < 1 or scale.years < 1:
        problems.append("--las and --years must be at least 1")
    if scale.centres < scale.las:
        problems.append("--centres must be at least --las (one centre per local authority)")
    if scale.lsoas < scale.centres:
        problems.append("--lsoas must be at least --centres (one LSOA per centre)")
    if scale.lsoas > 90_000:
        problems.append("--lsoas must be at most 90000")
    if scale.births_per_year < 100:
        problems.append("--births-per-year must be at least 100")
    if not 1950 <= scale.first_year <= 2100:
        problems.append("--first-year must be between 1950 and 2100")
    return problems


Written = list[tuple[Path, int]]


class _Forked:
    """Work done by a forked process, which inherits the model copy-on-write (nothing pickled)."""

    def __init__(self, work: Callable[[], Written]) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=lambda: send.send(work()), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> Written:
        try:
            written = self._receive.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(
                f"the forked generator process failed (exit code {self._process.exitcode})"
            ) from None
        self._process.join()
        return written


def _ncmp_files(
    landing: Path, births: Births, geo: Geography, calendar: Calendar, scale: Scale, seed: int
) -> Written:
    ncmp = simulate_ncmp(births, geo, calendar, scale, seed)
    return write_extract(landing, ncmp_extract(ncmp, geo, calendar, seed), seed)


def generate(landing: Path, scale: Scale, seed: int, processes: int = 2) -> dict[str, Written]:
    """Write the whole demo landing folder; returns the files written per feed.

    Every part draws from a random stream of its own, so with two processes NCMP is made in a
    forked process while this one writes the reference files, maternity and health visiting:
    the bytes do not depend on the number of processes.
    """
    problems = validate(scale)
    if problems:
        raise ValueError("; ".join(problems))
    _prepare_landing(landing)
    (landing / DEMO_MARKER).write_text(_marker_text(scale, seed), encoding="utf-8")
    calendar = build_calendar(scale, seed)
    geo = build_geography(scale, seed)
    births = simulate_births(geo, calendar, scale, seed)
    ncmp_files = partial(_ncmp_files, landing, births, geo, calendar, scale, seed)
    forked = _Forked(ncmp_files) if processes > 1 else None
    written = {"reference": write_reference(landing, geo)}
    written["maternity"] = write_extract(landing, maternity_extract(births, geo, calendar, seed), seed)
    reviews = simulate_reviews(births, geo, calendar, seed)
    written["health_visiting"] = write_extract(
        landing, health_visiting_extract(reviews, geo, calendar, seed), seed
    )
    del reviews
    written["ncmp"] = forked.result() if forked is not None else ncmp_files()
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cc_warehouse.demo",
        description="Write a deterministic synthetic landing folder for the fictional Demo City.",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="landing folder (default: $CC_LANDING_DIR or data/landing)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="city",
        help="scale preset: city (default), region or england",
    )
    parser.add_argument("--births-per-year", type=int, help="births a year (city: 3000)")
    parser.add_argument("--centres", type=int, help="children's centre areas (city: 14)")
    parser.add_argument("--lsoas", type=int, help="LSOAs (city: 150)")
    parser.add_argument("--las", type=int, help="local authorities (city: 1)")
    parser.add_argument(
        "--first-year", type=int, help="first financial and academic year, e.g. 2019 for 2019/20"
    )
    parser.add_argument("--years", type=int, help="number of years (city: 6)")
    parser.add_argument(
        "--processes",
        type=int,
        choices=(1, 2),
        default=2,
        help="2 (default): NCMP is made in a second process; the files are the same either way",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser


def scale_from_args(args: argparse.Namespace) -> Scale:
    """The preset, with every scale flag given on the command line overriding it."""
    overrides = {name: getattr(args, name) for name in SCALE_FLAGS if getattr(args, name) is not None}
    return replace(PRESETS[args.preset], **overrides)


def _keep_freed_memory() -> None:
    """Have freed memory reused for the next column instead of handed back to the kernel.

    The model allocates and frees arrays of millions of rows. By default glibc's malloc maps
    each one afresh and unmaps it when freed, and Arrow's mimalloc returns its pages, so the
    kernel faults in and zeroes new pages every time: a third of the CPU at england was system
    time. glibc is asked not to map big blocks separately nor trim its heap, and Arrow
    allocates through it; elsewhere nothing changes.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's malloc.h
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)
    pa.set_memory_pool(pa.system_memory_pool())


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must not be negative")
    scale = scale_from_args(args)
    problems = validate(scale)
    if problems:
        parser.error("; ".join(problems))
    landing = args.out if args.out is not None else settings().landing_dir
    started = time.perf_counter()
    try:
        written = generate(landing, scale, args.seed, args.processes)
    except LandingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        for feed, files in written.items():
            rows = sum(count for _, count in files)
            print(f"{feed:16s} {len(files):3d} files {rows:>12,d} rows")
        print(
            f"Demo City written to {landing} in {time.perf_counter() - started:.1f}s "
            f"(seed {args.seed}); marked synthetic by {DEMO_MARKER}"
        )
    return 0


if __name__ == "__main__":
    _keep_freed_memory()  # a process of its own: the allocators' settings are ours to change
    sys.exit(main())
