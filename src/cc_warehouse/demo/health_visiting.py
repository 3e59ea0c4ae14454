"""Health visiting reviews and their feed.

Every live-born resident infant who has not moved away is due a new birth visit (day 14) and a
6-8 week review (day 56). Whether the review is done, how late, and whether feeding status is
recorded are drawn with centre effects; recording at the new birth visit rises from about 63% to
91% over the years. health_visiting_extract writes one extract per financial quarter: a review
done after the extract was taken, and a few others, are resent in the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from cc_warehouse.demo.calendar import Calendar
from cc_warehouse.demo.common import (
    Frame,
    Ordered,
    _calibrated,
    _concat,
    _ids,
    _iso_dates,
    _labels,
    _rng,
    _rows,
    _take,
    _trend,
)
from cc_warehouse.demo.extracts import (
    Extract,
    Noise,
    Text,
    _finished,
    _nhs_text,
    _occurrences,
    _postcode_text,
    _put,
    _required_date,
    _transform,
    _with_unknowns,
)
from cc_warehouse.demo.geography import Geography
from cc_warehouse.demo.maternity import Births

HEALTH_VISITING_COLUMNS = (
    "review_id", "child_nhs_number", "child_birth_date", "child_postcode", "review_type",
    "due_date", "contact_date", "feeding_status",
)  # fmt: skip

MOVED_BEFORE_REVIEW = 0.04
NBV_RECORDED = (0.63, 0.91)
SIX_EIGHT_WEEK_RECORDED = (0.87, 0.91)
REVIEW_RESEND = 0.02


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
# Extract
# --------------------------------------------------------------------------------------------


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
