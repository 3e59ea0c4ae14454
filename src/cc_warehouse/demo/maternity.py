"""Births and the maternity feed.

Deliveries per financial year follow the scale with a gentle fall and a September peak.
Logistic models whose intercepts are calibrated to city-wide targets give smoking (falling over
time), multiple births, gestation, delivery method, still birth and breastfeeding, all worse in
deprived areas; birth weight is log-normal around a gestation curve, calibrated to the term
low-birth-weight rate. Some resident babies are born at other hospitals: they reach health
visiting and NCMP but never the maternity extract. maternity_extract turns the births into one
extract per financial quarter, resending a few deliveries with a fault corrected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cc_warehouse.demo.calendar import Calendar
from cc_warehouse.demo.common import (
    BABY_NHS_BASES,
    FIRST_BME,
    MOTHER_NHS_BASES,
    Bools,
    Floats,
    Frame,
    Ints,
    Scale,
    _calibrated,
    _day,
    _draw_by_group,
    _ethnic_categories,
    _flags,
    _ids,
    _ints,
    _iso_dates,
    _labels,
    _nhs_numbers,
    _rng,
    _rows,
    _trend,
)
from cc_warehouse.demo.extracts import (
    Extract,
    Noise,
    Text,
    _ethnic_text,
    _finished,
    _group_ids,
    _impossible,
    _nhs_text,
    _occurrences,
    _postcode_text,
    _put,
    _required_date,
    _with_unknowns,
)
from cc_warehouse.demo.geography import Geography

MATERNITY_COLUMNS = (
    "birth_id", "delivery_id", "mother_nhs_number", "baby_nhs_number", "mother_birth_date",
    "mother_postcode", "mother_ethnic_category", "delivery_date", "gestation_weeks",
    "birth_weight_grams", "live_birth", "delivery_method", "smoking_at_delivery",
    "breastfeeding_initiated",
)  # fmt: skip

RUN_IN_DAYS = 70  # births before the window whose reviews fall due inside it
BIRTH_TREND = 0.99  # births fall by 1% a year
BABIES_PER_DELIVERY = 1.0154
BORN_ELSEWHERE = 0.03  # resident births at other hospitals
MOVED_OUT = 0.02  # infants who leave before their reviews
TWIN_SHARE, TRIPLET_SHARE = 0.015, 0.0002
SMOKING = (0.17, 0.10)  # first and last financial year
SPONTANEOUS_DELIVERY = (0.60, 0.55)
BREASTFEEDING_INITIATION = (0.72, 0.77)
BREASTFED_AT_NBV, BREASTFED_AT_6_8_WEEKS = 0.65, 0.47
TOTALLY_BREASTFED_AT_NBV, TOTALLY_BREASTFED_AT_6_8_WEEKS = 0.62, 0.58
SINGLETON_PRETERM, TWIN_PRETERM, TRIPLET_PRETERM = 0.058, 0.55, 0.95
STILL_BIRTH = 0.004
TERM_LOW_BIRTH_WEIGHT = 0.029
MATERNITY_RESEND = 0.04
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
# Extract
# --------------------------------------------------------------------------------------------


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
