"""The extract contract (shared/specs/extracts.md) as data: feeds, files and column rules.

The loader turns each rule into SQL; nothing here reads data. Code lists come from the dbt
seeds, so the loader and the models accept exactly the same codes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from cc_warehouse import config


def seed_codes(seed: str, column: str) -> tuple[str, ...]:
    with (config.project_dir() / "seeds" / f"{seed}.csv").open(newline="", encoding="utf-8") as handle:
        return tuple(row[column].strip().upper() for row in csv.DictReader(handle))


@dataclass(frozen=True)
class Column:
    """One contract column and how the loader checks it.

    kind: key (required text), text, postcode, code, date, nhs, int, decimal, academic_year.
    required: a row whose value is missing or unusable is quarantined (keys, required dates).
    unknown: raw values that mean "not recorded" (become NULL without an issue).
    """

    name: str
    kind: str
    required: bool = False
    codes: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    target: str | None = None  # the raw-zone column name, when it differs (NHS numbers)

    @property
    def output(self) -> str:
        return self.target or self.name


@dataclass(frozen=True)
class Feed:
    name: str
    key: str
    columns: tuple[Column, ...]
    reference: bool = False
    # pairs (earlier, later) of date columns: the later must not come before the earlier;
    # when it does, the earlier (the less trusted) becomes unknown.
    date_order: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # pairs (date, reference): a date before its reference date is impossible and becomes
    # unknown (a contact with a child before the child was born)
    not_before: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


YES_NO = ("Y", "N")


def _feeds() -> dict[str, Feed]:
    ethnic = seed_codes("ethnic_category", "ethnic_category")
    methods = seed_codes("delivery_method", "delivery_method")
    feeding = seed_codes("feeding_status", "feeding_status")
    maternity = Feed(
        name="maternity",
        key="birth_id",
        columns=(
            Column("birth_id", "key", required=True),
            Column("delivery_id", "key", required=True),
            Column("mother_nhs_number", "nhs", target="mother_pseudo_id"),
            Column("baby_nhs_number", "nhs", target="baby_pseudo_id"),
            Column("mother_birth_date", "date"),
            Column("mother_postcode", "postcode"),
            Column("mother_ethnic_category", "code", codes=ethnic),
            Column("delivery_date", "date", required=True),
            Column("gestation_weeks", "int", low=20, high=46),
            Column("birth_weight_grams", "int", low=200, high=7000, unknown=("9999",)),
            Column("live_birth", "code", codes=YES_NO),
            Column("delivery_method", "code", codes=methods, unknown=("X",)),
            Column("smoking_at_delivery", "code", codes=YES_NO, unknown=("U",)),
            Column("breastfeeding_initiated", "code", codes=YES_NO, unknown=("U",)),
        ),
        date_order=(("mother_birth_date", "delivery_date"),),
    )
    health_visiting = Feed(
        name="health_visiting",
        key="review_id",
        columns=(
            Column("review_id", "key", required=True),
            Column("child_nhs_number", "nhs", target="child_pseudo_id"),
            Column("child_birth_date", "date"),
            Column("child_postcode", "postcode"),
            Column("review_type", "code", codes=("NBV", "6-8W")),
            Column("due_date", "date", required=True),
            Column("contact_date", "date"),
            Column("feeding_status", "code", codes=feeding),
        ),
        not_before=(("contact_date", "child_birth_date"),),
    )
    ncmp = Feed(
        name="ncmp",
        key="ncmp_id",
        columns=(
            Column("ncmp_id", "key", required=True),
            Column("child_nhs_number", "nhs", target="child_pseudo_id"),
            Column("academic_year", "academic_year"),
            Column("school_year", "code", codes=("R", "6")),
            Column("school_code", "text"),
            Column("sex", "code", codes=("M", "F")),
            Column("birth_date", "date"),
            Column("child_postcode", "postcode"),
            Column("ethnic_category", "code", codes=ethnic),
            Column("measurement_date", "date"),
            Column("height_cm", "decimal", low=50, high=220),
            Column("weight_kg", "decimal", low=5, high=200),
            Column("not_measured_reason", "code", codes=("OPTED_OUT", "ABSENT", "OTHER")),
        ),
        date_order=(("birth_date", "measurement_date"),),
    )
    postcode_lsoa = Feed(
        name="postcode_lsoa",
        key="postcode",
        reference=True,
        columns=(Column("postcode", "postcode", required=True), Column("lsoa_code", "key", required=True)),
    )
    lsoa_centre = Feed(
        name="lsoa_centre",
        key="lsoa_code",
        reference=True,
        columns=(
            Column("lsoa_code", "key", required=True),
            # an LSOA without its centre or authority cannot be placed: the row is quarantined
            # (its residents "not placed"), rather than a blank failing every build
            Column("centre_code", "text", required=True),
            Column("centre_name", "text"),
            Column("la_code", "text", required=True),
            Column("la_name", "text"),
        ),
    )
    lsoa_imd = Feed(
        name="lsoa_imd",
        key="lsoa_code",
        reference=True,
        columns=(
            Column("lsoa_code", "key", required=True),
            # a decile outside 1 to 10 quarantines the row: the LSOA is left out of the IMD
            # breakdowns (a warning), rather than an unknown decile failing every build
            Column("imd_decile", "int", low=1, high=10, required=True),
        ),
    )
    feeds = (maternity, health_visiting, ncmp, postcode_lsoa, lsoa_centre, lsoa_imd)
    return {feed.name: feed for feed in feeds}


FEEDS = _feeds()
EXTRACT_FEEDS = ("maternity", "health_visiting", "ncmp")
REFERENCE_FILES = {f"{name}.csv": name for name in ("postcode_lsoa", "lsoa_centre", "lsoa_imd")}
BOUNDARY_FILE = "lsoa_boundaries.geojson"
EXTRACT_NAME = re.compile(r"^(?P<feed>[a-z_]+)_(?P<date>\d{8})\.csv$", re.IGNORECASE)


def describe() -> str:
    """The columns of every feed, for messages and the README."""
    return "\n".join(f"{name}: {', '.join(feed.column_names)}" for name, feed in FEEDS.items())


def feed_folder(path: Path) -> str:
    return path.parent.name
