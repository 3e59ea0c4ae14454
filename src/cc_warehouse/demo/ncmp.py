"""NCMP: Reception and Year 6 height and weight measurements, and their feed.

Each school year's cohort comes from the births (children who stayed, some at a new address);
children born before the maternity window, and movers-in, are drawn afresh. BMI is set from a
UK90 z-score whose shift is calibrated to the year's obesity rate, and height and weight follow
from it. ncmp_extract writes one extract per school year, in the autumn after it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from cc_warehouse.demo.calendar import Calendar
from cc_warehouse.demo.common import (
    FIRST_BME,
    SCHOOL_CHILD_NHS_BASES,
    Bools,
    Floats,
    Frame,
    Ints,
    Ordered,
    Scale,
    _calibrated,
    _concat,
    _day,
    _ethnic_categories,
    _ids,
    _ints,
    _iso_dates,
    _labels,
    _nhs_numbers,
    _rng,
    _rows,
    _tenths,
    _weekday_on_or_after,
)
from cc_warehouse.demo.extracts import (
    Extract,
    Noise,
    Text,
    _ethnic_text,
    _finished,
    _impossible,
    _nhs_text,
    _occurrences,
    _postcode_text,
    _put,
)
from cc_warehouse.demo.geography import Geography
from cc_warehouse.demo.maternity import BORN_ELSEWHERE, Births

NCMP_COLUMNS = (
    "ncmp_id", "child_nhs_number", "academic_year", "school_year", "school_code", "sex",
    "birth_date", "child_postcode", "ethnic_category", "measurement_date", "height_cm",
    "weight_kg", "not_measured_reason",
)  # fmt: skip

NCMP_RESEND = 0.01
NCMP_STAYERS, NCMP_MOVERS_IN, NCMP_MOVED_HOME = 0.88, 0.12, 0.45
NCMP_MEASURED = 0.95
RECEPTION_OBESITY = {2019: 0.098, 2020: 0.120, 2021: 0.104, 2022: 0.098, 2023: 0.096}
YEAR6_OBESITY = {2019: 0.215, 2020: 0.240, 2021: 0.234, 2022: 0.228, 2023: 0.223}
OBESE_Z = 1.6449  # 95th centile

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
# Extract
# --------------------------------------------------------------------------------------------


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
