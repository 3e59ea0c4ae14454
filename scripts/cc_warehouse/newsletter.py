"""The quarterly newsletter: one per children's centre area, for parents and practitioners.

Reads the published copy only (never the live warehouse), and of the indicator values only
the public mart pub_indicator_values, where disclosure control has already been applied
(counts of 1 to 7 suppressed, secondary suppression, counts rounded to 5, whole
percentages). It writes

    <reports>/newsletters/<period>/<centre_code>.html and .pdf    one per centre area
    <reports>/newsletters/<period>/city-<la_code>.html and .pdf   every centre compared
    <reports>/newsletters/index.html                              every newsletter written
    <reports>/public/pub_indicator_values.csv                     the public export

for the latest complete quarter, or the quarter asked for (`--period '2024/25 Q3'` or the
environment variable CC_PERIOD). Headline figures are the rolling 12 months ending in that
quarter (a quarter alone is too small for a centre) and, for the school measurements
(NCMP), the latest academic year that had ended by the end of the quarter.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from . import boundaries, config
from .newsletter_charts import RankedArea, centre_map_svg, comparison_map_svg, ranking_svg, trend_svg
from .publish import PUBLISHED_DB
from .templating import render

CHART_POINTS = 8  # rolling 12-month values drawn: two years of quarters
NCMP_POINTS = 5  # academic years drawn

# The words for each comparison (pub_indicator_values.vs_la / vs_england). The sentences
# below contain these phrases, and the tests check them against the data.
VS_PHRASES = {
    "similar": "similar to {place}",
    "better": "better than {place}",
    "worse": "worse than {place}",
    "higher": "higher than {place}",
    "lower": "lower than {place}",
}
COMPARISON_SENTENCES = {
    "similar": "This is similar to {place}. The gap is small enough to be down to chance.",
    "better": "This is better than {place}, and the gap is bigger than chance would explain.",
    "worse": "This is worse than {place}, and the gap is bigger than chance would explain.",
    "higher": "This is higher than {place}, and the gap is bigger than chance would explain.",
    "lower": "This is lower than {place}, and the gap is bigger than chance would explain.",
}
CHANGE_PHRASES = {
    "changed_up": "higher than {then}",
    "changed_down": "lower than {then}",
    "no_change": "about the same as {then}",
}
CHANGE_SENTENCES = {
    "changed_up": "It is higher than {then}, and the change is bigger than chance would explain.",
    "changed_down": "It is lower than {then}, and the change is bigger than chance would explain.",
    "no_change": "It is about the same as {then}. Any change is small enough to be down to chance.",
}
# The trend of the 5 years to the edition's last financial (or school) year:
# fct_indicator_values.trend, tested on years only.
TREND_WORDS = {
    "increasing": "rising (test for trend, 5 years)",
    "decreasing": "falling (test for trend, 5 years)",
    "no_significant_change": "no clear rise or fall (5 years)",
    "not compared": "not tested (a figure is hidden or not reliable)",
}
TREND_TOO_SHORT = "too few years to test"
FEED_HEADINGS = {
    "maternity": "When babies are born",
    "health_visiting": "Feeding babies",
    "ncmp": "Children's weight at school",
}
BREAKDOWNS = {
    "mother_under_20": "Young mums (under 20)",
    "bme": "Black and minority ethnic groups",
}
CITY = "the city"
ENGLAND = "England"
# Said of a figure that a later extract restated (pub_indicator_revisions).
REVISED_SENTENCE = "We have changed this figure. Some records were put right after we last wrote."


class NewsletterError(Exception):
    pass


class NotEnoughData(NewsletterError):
    """The data do not yet reach a quarter with a rolling year behind it."""


# ---------------------------------------------------------------- words


def share_words(pct: float) -> str:
    """A whole-number percentage as a share a child can read: 'About 7 in every 10'."""
    if pct <= 0:
        return "None of the"
    if pct >= 100:
        return "Almost all"
    if pct < 1:
        return "Fewer than 1 in every 100"
    if 20 <= pct <= 80:
        return f"About {int(pct / 10 + 0.5)} in every 10"
    return f"About {int(pct + 0.5)} in every 100"


def headline_sentence(pct: float, subject: str, outcome: str) -> str:
    share = share_words(pct)
    return f"{share} {subject} here {outcome}."


def comparison_sentence(value: str, place: str) -> str | None:
    """The sentence for a comparison with the city or England; None when nothing is claimed."""
    sentence = COMPARISON_SENTENCES.get(value)
    return sentence.format(place=place) if sentence else None


def change_sentence(value: str, then: str) -> str | None:
    sentence = CHANGE_SENTENCES.get(value)
    return sentence.format(then=then) if sentence else None


def target_sentence(target: float | None, meets: bool | None, polarity: str) -> str | None:
    if target is None or meets is None or polarity not in ("high_is_good", "low_is_good"):
        return None
    goal = f"at least {target:g}%" if polarity == "high_is_good" else f"{target:g}% or less"
    reached = "This area has reached it." if meets else "This area has not reached it yet."
    return f"The city's goal is {goal}. {reached}"


def percent(value: float | None) -> str:
    return "*" if value is None else f"{value:.0f}%"


def quarter_words(start: dt.date, end: dt.date) -> str:
    if start.year == end.year:
        return f"{start:%B} to {end:%B %Y}"
    return f"{start:%B %Y} to {end:%B %Y}"


def school_year_words(label: str) -> str:
    first = int(label[:4])
    return f"the school year {first} to {first + 1}"


def period_slug(label: str) -> str:
    """A period label as a folder name: '2024/25 Q3' -> '2024-25-Q3'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")


def file_stem(code: str) -> str:
    """A file name for an area code, one per code: a code a file name can hold as it is
    keeps it; another (`CC.04`, `CC/04`) gets its characters replaced and a short hash of
    the code, so that two such codes never share a file."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", code)
    if safe == code:
        return code
    return f"{safe}-{hashlib.sha256(code.encode()).hexdigest()[:8]}"


# ---------------------------------------------------------------- the public export


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet will not run as a formula: a leading = + - @ tab or CR gets a quote."""
    return "'" + text if text.startswith(_FORMULA_START) else text


PUBLIC_COLUMNS = [
    "indicator_id",
    "area_type",
    "area_code",
    "area_name",
    "la_code",
    "period_type",
    "period_label",
    "period_start",
    "period_end",
    "breakdown",
    "breakdown_group",
    "numerator",
    "denominator",
    "value_pct",
    "lower_95",
    "upper_95",
    "is_suppressed",
    "coverage_pct",
    "low_coverage",
    "polarity",
    "la_value_pct",
    "england_value_pct",
    "england_period",
    "vs_la",
    "vs_england",
    "year_earlier_period_label",
    "year_earlier_value_pct",
    "change_vs_year_earlier",
    "trend",
    "target_pct",
    "meets_target",
    "is_revised",
    "previous_value_pct",
]
# A NULL in these columns is a suppressed figure, written as `*`, where the condition holds.
_STAR_WHEN = {
    "numerator": "numerator_suppressed",
    "denominator": "denominator_suppressed",
    "value_pct": "is_suppressed",
    "lower_95": "is_suppressed",
    "upper_95": "is_suppressed",
    "coverage_pct": "denominator_suppressed",
    # every centre's city has a row, so a missing city value is a suppressed one
    "la_value_pct": "true",
    # the label is set only where the year-earlier row exists
    "year_earlier_value_pct": "year_earlier_period_label is not null",
    # a revised figure whose earlier value may not be shown
    "previous_value_pct": "is_revised",
}
_TEXT_COLUMNS = {
    "indicator_id",
    "area_type",
    "area_code",
    "area_name",
    "la_code",
    "period_type",
    "period_label",
    "breakdown",
    "breakdown_group",
    "polarity",
    "england_period",
    "vs_la",
    "vs_england",
    "year_earlier_period_label",
    "change_vs_year_earlier",
    "trend",
}
# RE2 reads \t and \r in the pattern as tab and carriage return
_FORMULA_PATTERN = r"'^[=+@\t\r-]'"


def _csv_expression(column: str) -> str:
    if column in _TEXT_COLUMNS:
        # a leading = + - @ tab or CR would make a spreadsheet run the cell as a formula
        return (
            f"case when regexp_matches({column}, {_FORMULA_PATTERN}) "
            f"then concat('''', {column}) else {column} end"
        )
    if column in ("england_value_pct", "target_pct"):
        # published figures stored to 6 places: 7.420000 -> 7.42, 8.000000 -> 8
        text = f"regexp_replace(cast({column} as varchar), '\\.?0+$', '')"
    else:
        text = f"cast({column} as varchar)"
    star_when = _STAR_WHEN.get(column)
    if star_when:
        return f"case when {column} is null and ({star_when}) then '*' else {text} end"
    return text


def write_public_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """pub_indicator_values as CSV, with the revision marks of pub_indicator_revisions:
    suppressed figures as `*`, text safe from formula injection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    columns = ",\n".join(f"{_csv_expression(c)} as {c}" for c in PUBLIC_COLUMNS)
    con.execute(
        f"""copy (
            select {columns} from (
                select
                    v.*,
                    r.revised_at is not null as is_revised,
                    r.previous_value_pct
                from pub_indicator_values v
                left join pub_indicator_revisions r
                    using (indicator_id, area_type, area_code, period_type, period_label, breakdown)
            )
            order by indicator_id, area_type desc, area_code, period_type, period_start, breakdown
        ) to {config.sql_string(temporary)} (format csv, header true)"""
    )
    os.replace(temporary, path)
    return path


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Edition:
    """The quarter a newsletter is for, and the periods its figures come from."""

    quarter: str
    quarter_start: dt.date
    quarter_end: dt.date
    rolling: str
    rolling_start: dt.date
    rolling_end: dt.date
    rolling_series: list[str]
    rolling_ticks: list[str]
    academic_year: str | None
    academic_series: list[str]
    # the last financial year ended by the quarter: the newsletter's trend for births and visits
    financial_year: str | None = None

    @property
    def slug(self) -> str:
        return period_slug(self.quarter)

    @property
    def quarter_text(self) -> str:
        return quarter_words(self.quarter_start, self.quarter_end)

    @property
    def rolling_text(self) -> str:
        return quarter_words(self.rolling_start, self.rolling_end)


def choose_edition(periods: pd.DataFrame, requested: str | None) -> Edition:
    quarters = periods[periods["period_type"] == "quarter"].sort_values("period_start")
    complete = quarters[quarters["is_complete"]]
    if requested:
        chosen = complete[complete["period_label"] == requested.strip()]
        if chosen.empty:
            available = ", ".join(complete["period_label"].tolist()[-8:])
            raise NewsletterError(
                f"no complete quarter {requested!r} in the published marts (latest: {available})"
            )
    else:
        if complete.empty:
            raise NotEnoughData("the published marts hold no complete quarter yet")
        chosen = complete.tail(1)
    quarter = chosen.iloc[0]
    rolling_all = periods[periods["period_type"] == "rolling_12m"].sort_values("period_start")
    rolling_label = f"12 months to {quarter['period_label']}"
    position = rolling_all.index[rolling_all["period_label"] == rolling_label]
    if len(position) == 0:
        raise NotEnoughData(f"no rolling 12 months end in {quarter['period_label']}: choose a later quarter")
    upto = rolling_all.loc[: position[0]].tail(CHART_POINTS)
    rolling = upto.iloc[-1]
    years = periods[
        (periods["period_type"] == "academic_year")
        & periods["is_complete"]
        & (periods["period_end"] <= quarter["period_end"])
    ].sort_values("period_start")
    academic = years.iloc[-1]["period_label"] if not years.empty else None
    financial = _last_ended(periods, "financial_year", quarter["period_end"])
    return Edition(
        quarter=quarter["period_label"],
        quarter_start=_date(quarter["period_start"]),
        quarter_end=_date(quarter["period_end"]),
        rolling=rolling_label,
        rolling_start=_date(rolling["period_start"]),
        rolling_end=_date(rolling["period_end"]),
        rolling_series=upto["period_label"].tolist(),
        rolling_ticks=[f"{_date(end):%b}\n{_date(end):%Y}" for end in upto["period_end"]],
        academic_year=academic,
        academic_series=years["period_label"].tolist()[-NCMP_POINTS:],
        financial_year=financial,
    )


def _last_ended(periods: pd.DataFrame, period_type: str, by) -> str | None:
    """The label of the last complete period of this type that ended by `by`, or None."""
    ended = periods[
        (periods["period_type"] == period_type) & periods["is_complete"] & (periods["period_end"] <= by)
    ].sort_values("period_start")
    return ended.iloc[-1]["period_label"] if not ended.empty else None


def _date(value) -> dt.date:
    return value.date() if hasattr(value, "date") else value


# ---------------------------------------------------------------- reading the published marts


@dataclass
class Marts:
    values: pd.DataFrame
    indicators: pd.DataFrame
    areas: pd.DataFrame
    periods: pd.DataFrame
    completeness: pd.DataFrame
    cities: dict[str, boundaries.CityShapes]
    lookup: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)
    # figures restated by the latest data change (pub_indicator_revisions), by the same key
    revisions: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)

    def row(
        self, indicator_id: str, area_code: str, period_label: str, breakdown: str = "all"
    ) -> dict | None:
        return self.lookup.get((indicator_id, area_code, period_label, breakdown))

    def revision(self, row: dict | None) -> dict | None:
        """The revision of a shown figure, or None when it was not revised or is not shown."""
        if row is None or row["is_suppressed"]:
            return None
        key = (row["indicator_id"], row["area_code"], row["period_label"], row["breakdown"])
        return self.revisions.get(key)


def gather(published_db: Path, maps: bool = True) -> Marts:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        values = con.execute(
            """select * from pub_indicator_values
            where period_type in ('rolling_12m', 'academic_year')"""
        ).df()
        indicators = con.execute("select * from dim_indicator order by display_order").df()
        areas = con.execute("select * from dim_area").df()
        periods = con.execute("select * from dim_period").df()
        completeness = con.execute(
            """select c.feed, c.item_id, c.area_code, c.period_label, c.completeness_pct,
                c.target_pct, c.status, i.description, i.display_order
            from fct_return_completeness c join dim_data_quality_item i using (item_id)
            where c.area_type = 'centre'"""
        ).df()
        revisions = con.execute(
            """select indicator_id, area_code, period_label, breakdown, previous_value_pct
            from pub_indicator_revisions
            where period_type in ('rolling_12m', 'academic_year')"""
        ).df()
        cities = boundaries.load(con) if maps else {}
    finally:
        con.close()
    values = values.astype(object).where(values.notna(), None)
    marts = Marts(values, indicators, areas, periods, completeness, cities)
    marts.lookup = _by_figure(values)
    marts.revisions = _by_figure(revisions.astype(object).where(revisions.notna(), None))
    return marts


def _by_figure(frame: pd.DataFrame) -> dict[tuple, dict]:
    """Rows keyed by the figure they describe (indicator, area, period, breakdown)."""
    keys = ["indicator_id", "area_code", "period_label", "breakdown"]
    return {tuple(row[k] for k in keys): row for row in frame.to_dict("records")}


# ---------------------------------------------------------------- building one newsletter


def _number(value) -> float | None:
    return None if value is None else float(value)


def _count(value, suppressed: bool) -> dict:
    """A count as shown: `*` when suppressed, else the rounded count (marked for the tests)."""
    if suppressed or value is None:
        return {"text": "*", "data": "*"}
    return {"text": f"{int(value):,}", "data": str(int(value))}


def _fact_value(row: dict | None) -> str:
    if row is None:
        return "no figure"
    if row["is_suppressed"]:
        return "*"
    if row["low_coverage"]:
        return f"{percent(_number(row['value_pct']))} (not reliable: too few records complete)"
    return percent(_number(row["value_pct"]))


def indicator_card(marts: Marts, edition: Edition, indicator: dict, centre: dict, prefix: str) -> dict:
    ncmp = indicator["feed"] == "ncmp"
    period = edition.academic_year if ncmp else edition.rolling
    series = edition.academic_series if ncmp else edition.rolling_series
    ticks = series if ncmp else edition.rolling_ticks
    then = "the school year before" if ncmp else "a year ago"
    when = f"in {school_year_words(period)}" if ncmp and period else "in the last 12 months"
    iid, code, la_code = indicator["indicator_id"], centre["area_code"], centre["la_code"]
    row = marts.row(iid, code, period) if period else None
    city = marts.row(iid, la_code, period) if period else None
    subject, outcome = indicator["parent_subject"], indicator["parent_outcome"]
    card: dict = {
        "id": iid,
        "name": indicator["plain_name"],
        "feed": indicator["feed"],
        "period_label": period or "no period",
        "when": when,
        "status": "missing",
        "value": "no figure",
        "city_value": percent(_number(city["value_pct"])) if city else "no figure",
        "england_value": None,
        "england_period": None,
        "sentences": [],
        "comparisons": [],
        "vs_la": "not compared",
        "vs_england": "not compared",
        "change": "not compared",
        "suppressed": False,
        "low_coverage": False,
        "facts": [],
        "numerator": None,
        "denominator": None,
        "chart": None,
        "chart_alt": "",
        "revised": None,
    }
    if row is None:
        card["sentences"].append(f"There is no figure for {subject} here {when}.")
        return card
    card["suppressed"] = bool(row["is_suppressed"])
    card["low_coverage"] = bool(row["low_coverage"])
    card["vs_la"] = row["vs_la"]
    card["vs_england"] = row["vs_england"]
    card["change"] = row["change_vs_year_earlier"]
    card["numerator"] = _count(row["numerator"], row["numerator_suppressed"])
    card["denominator"] = _count(row["denominator"], row["denominator_suppressed"])
    if row["england_value_pct"] is not None:
        card["england_value"] = percent(_number(row["england_value_pct"]))
        card["england_period"] = row["england_period"]
    value = _number(row["value_pct"])
    if card["suppressed"]:
        card["status"] = "suppressed"
        card["value"] = "*"
        # why is not said: that a count is small, not just hidden, would help work it out
        card["sentences"].append(
            f"We hide this figure (*). There were too few {subject} here, or it would let "
            "someone work out a very small number."
        )
    elif card["low_coverage"]:
        card["status"] = "low_coverage"
        card["value"] = "not reliable"
        coverage = _number(row["coverage_pct"])
        card["sentences"].append("We can't give a reliable figure for this.")
        card["sentences"].append(
            f"Too few records were complete: only {percent(coverage)} of {subject} had it written down."
        )
    else:
        card["status"] = "shown"
        card["value"] = percent(value)
        card["sentences"].append(f"{headline_sentence(value, subject, outcome)[:-1]} {when}.")
        for kind, place, result in (
            ("vs_la", CITY, row["vs_la"]),
            ("vs_england", ENGLAND, row["vs_england"]),
        ):
            sentence = comparison_sentence(result, place)
            if sentence:
                card["comparisons"].append({"kind": kind, "value": result, "text": sentence})
        sentence = change_sentence(row["change_vs_year_earlier"], then)
        if sentence:
            earlier = _number(row["year_earlier_value_pct"])
            card["comparisons"].append(
                {
                    "kind": "change",
                    "value": row["change_vs_year_earlier"],
                    "text": f"{sentence} It was {percent(earlier)} then.",
                }
            )
        goal = target_sentence(_number(row["target_pct"]), row["meets_target"], row["polarity"])
        if goal:
            card["sentences"].append(goal)
        card["revised"] = revised_note(marts.revision(row))
    trend_period = period if ncmp else edition.financial_year
    trend_row = marts.row(iid, code, trend_period) if trend_period else None
    card["facts"] = _facts(row, city, card, trend_row)
    _chart(card, marts, iid, code, la_code, series, ticks, prefix)
    return card


def _facts(row: dict, city: dict | None, card: dict, trend_row: dict | None) -> list[dict]:
    shown = not row["is_suppressed"]
    interval = (
        f" (95% range {percent(_number(row['lower_95']))} to {percent(_number(row['upper_95']))})"
        if shown
        else ""
    )
    facts = [
        {"label": "Period", "text": row["period_label"]},
        {
            "label": "This area",
            "text": _fact_value(row) + (interval if shown and not row["low_coverage"] else ""),
        },
        {"label": "Counted", "counts": True},
        {"label": "City", "text": _fact_value(city)},
        {
            "label": "England",
            "text": f"{card['england_value']} ({card['england_period']})"
            if card["england_value"]
            else "no figure",
        },
        {
            "label": "Compared with the city",
            "comparison": "vs_la",
            "value": row["vs_la"],
            "text": _vs_words(row["vs_la"], CITY),
        },
        {
            "label": "Compared with England",
            "comparison": "vs_england",
            "value": row["vs_england"],
            "text": _vs_words(row["vs_england"], ENGLAND),
        },
        {
            "label": f"A year earlier ({row['year_earlier_period_label'] or 'none'})",
            "text": f"{_year_earlier(row)}; {row['change_vs_year_earlier'].replace('_', ' ')}",
        },
        _trend_fact(trend_row),
        {"label": "Records complete", "text": percent(_number(row["coverage_pct"]))},
    ]
    target = _number(row["target_pct"])
    if target is not None:
        met = {True: "met", False: "not met", None: "not judged"}[row["meets_target"]]
        facts.append({"label": "Local target", "text": f"{target:g}%: {met}"})
    return [{"counts": False, "comparison": None, "period": None, **fact} for fact in facts]


def _trend_fact(row: dict | None) -> dict:
    """The recent trend of the 5 years to the edition's last year, in words."""
    if row is None:
        return {"label": "Trend", "text": TREND_TOO_SHORT}
    return {
        "label": f"Trend (5 years to {row['period_label']})",
        "comparison": "trend",
        "value": row["trend"] or "none",
        "period": row["period_label"],
        "text": TREND_WORDS.get(row["trend"], TREND_TOO_SHORT),
    }


def revised_note(revision: dict | None) -> dict | None:
    """What a reader is told about a figure that the latest data restated, or None."""
    if revision is None:
        return None
    earlier = _number(revision["previous_value_pct"])
    text = REVISED_SENTENCE
    if earlier is not None:
        text += f" It was {percent(earlier)} before."
    return {"earlier": None if earlier is None else percent(earlier), "text": text}


def _vs_words(value: str, place: str) -> str:
    phrase = VS_PHRASES.get(value)
    return phrase.format(place=place) if phrase else "not compared"


def _year_earlier(row: dict) -> str:
    if not row["year_earlier_period_label"]:
        return "no figure"
    return percent(_number(row["year_earlier_value_pct"]))


def _chart(
    card: dict,
    marts: Marts,
    iid: str,
    code: str,
    la_code: str,
    series: Sequence[str],
    ticks: Sequence[str],
    prefix: str,
) -> None:
    values, lowers, uppers, city = [], [], [], []
    for label in series:
        point = marts.row(iid, code, label)
        usable = point is not None and not point["is_suppressed"] and not point["low_coverage"]
        values.append(_number(point["value_pct"]) if usable else None)
        lowers.append(_number(point["lower_95"]) if usable else None)
        uppers.append(_number(point["upper_95"]) if usable else None)
        city_point = marts.row(iid, la_code, label)
        city.append(
            _number(city_point["value_pct"]) if city_point and not city_point["is_suppressed"] else None
        )
    if all(v is None for v in values) and all(v is None for v in city):
        return
    card["chart"] = trend_svg(prefix, list(ticks), values, lowers, uppers, city)
    names = [t.replace("\n", " ") for t in ticks]
    what = "12 months to each date" if names != list(series) else "school years"
    area_text = ", ".join(f"{n} {_chart_value(v)}" for n, v in zip(names, values, strict=True))
    city_text = ", ".join(f"{n} {_chart_value(v)}" for n, v in zip(names, city, strict=True))
    card["chart_alt"] = (
        f"Line chart of {card['name'].lower()}, {what}, oldest first. This area: {area_text}. "
        f"The city: {city_text}. A shaded band shows the 95% range of this area's figure."
    )


def _chart_value(value: float | None) -> str:
    return "not shown" if value is None else percent(value)


def breakdown_tables(marts: Marts, edition: Edition, centre: dict) -> list[dict]:
    tables = []
    for breakdown, title in BREAKDOWNS.items():
        rows = []
        for indicator in marts.indicators.to_dict("records"):
            ncmp = indicator["feed"] == "ncmp"
            if breakdown == "mother_under_20" and ncmp:
                continue  # the mother's age is not known for school measurements
            period = edition.academic_year if ncmp else edition.rolling
            if not period:
                continue
            here = marts.row(indicator["indicator_id"], centre["area_code"], period, breakdown)
            city = marts.row(indicator["indicator_id"], centre["la_code"], period, breakdown)
            rows.append(
                {
                    "name": indicator["plain_name"],
                    "period": period,
                    "here": _breakdown_value(here),
                    "city": _breakdown_value(city),
                    "here_status": _breakdown_status(here),
                    "here_revised": marts.revision(here) is not None,
                    "city_revised": marts.revision(city) is not None,
                }
            )
        any_here = any(row["here_status"] == "shown" for row in rows)
        tables.append({"id": breakdown, "title": title, "rows": rows, "any_here": any_here})
    return tables


def _breakdown_value(row: dict | None) -> str:
    if row is None:
        return "none"
    if row["is_suppressed"]:
        return "*"
    if row["low_coverage"]:
        return "not reliable"
    return percent(_number(row["value_pct"]))


def _breakdown_status(row: dict | None) -> str:
    if row is None:
        return "missing"
    if row["is_suppressed"]:
        return "suppressed"
    return "low_coverage" if row["low_coverage"] else "shown"


def completeness_items(marts: Marts, edition: Edition, centre_code: str) -> list[dict]:
    wanted = marts.completeness[
        (marts.completeness["area_code"] == centre_code)
        & (
            ((marts.completeness["feed"] != "ncmp") & (marts.completeness["period_label"] == edition.quarter))
            | (
                (marts.completeness["feed"] == "ncmp")
                & (marts.completeness["period_label"] == edition.academic_year)
            )
        )
    ].sort_values("display_order")
    return [
        {
            "description": r["description"],
            "period": r["period_label"],
            "pct": percent(round(float(r["completeness_pct"]))),
            "target": f"{float(r['target_pct']):g}%",
            "status": r["status"],
            "status_text": {
                "meets_target": "meets the target",
                "below_target": "below the target",
                "below_minimum": "well below the target",
            }.get(r["status"], r["status"]),
        }
        for r in wanted.to_dict("records")
    ]


def glance(cards: list[dict]) -> list[dict]:
    items = []
    for card in cards:
        if card["status"] == "shown":
            phrase = VS_PHRASES.get(card["vs_la"])
            words = phrase.format(place=CITY) if phrase else "no comparison with the city"
        elif card["status"] == "suppressed":
            words = "too few to show"
        elif card["status"] == "low_coverage":
            words = "not reliable: too few records complete"
        else:
            words = "no figure"
        items.append(
            {
                "id": card["id"],
                "name": card["name"],
                "value": card["value"],
                "vs_la": card["vs_la"],
                "words": words,
                "status": card["status"],
            }
        )
    return items


# ---------------------------------------------------------------- the city overview


def city_overview(marts: Marts, edition: Edition, la: dict, shapes: boundaries.CityShapes | None) -> dict:
    centres = marts.areas[
        (marts.areas["area_type"] == "centre") & (marts.areas["la_code"] == la["area_code"])
    ]
    centres = centres.sort_values("area_code").to_dict("records")
    numbers = {c["area_code"]: str(n) for n, c in enumerate(centres, start=1)}
    sections = []
    for indicator in marts.indicators.to_dict("records"):
        ncmp = indicator["feed"] == "ncmp"
        period = edition.academic_year if ncmp else edition.rolling
        if not period:
            continue
        iid = indicator["indicator_id"]
        city = marts.row(iid, la["area_code"], period)
        ranked, rows, statuses = [], [], {}
        for centre in centres:
            row = marts.row(iid, centre["area_code"], period)
            shown = row is not None and not row["is_suppressed"] and not row["low_coverage"]
            status = row["vs_la"] if shown else "not compared"
            statuses[centre["area_code"]] = status
            name = f"{numbers[centre['area_code']]}. {_short_name(centre['area_name'])}"
            ranked.append(
                RankedArea(
                    centre["area_code"],
                    name,
                    _number(row["value_pct"]) if shown else None,
                    _number(row["lower_95"]) if shown else None,
                    _number(row["upper_95"]) if shown else None,
                    status,
                )
            )
            rows.append(
                {
                    "code": centre["area_code"],
                    "number": numbers[centre["area_code"]],
                    "name": centre["area_name"],
                    "short_name": _short_name(centre["area_name"]),
                    "value": _fact_value(row),
                    "interval": (
                        f"{percent(_number(row['lower_95']))} to {percent(_number(row['upper_95']))}"
                        if shown
                        else ""
                    ),
                    "numerator": _count(row["numerator"], row["numerator_suppressed"]) if row else None,
                    "denominator": _count(row["denominator"], row["denominator_suppressed"]) if row else None,
                    "vs_la": status,
                    "words": VS_PHRASES[status].format(place=CITY)
                    if status in VS_PHRASES
                    else "not compared",
                }
            )
        city_value = _number(city["value_pct"]) if city and not city["is_suppressed"] else None
        prefix = f"city-{iid}"
        counts = {s: sum(1 for v in statuses.values() if v == s) for s in dict.fromkeys(statuses.values())}
        summary = _overview_summary(counts, indicator["polarity"])
        ranked_text = ", ".join(
            f"{a.name} {percent(a.value)}"
            for a in sorted((a for a in ranked if a.value is not None), key=lambda a: -a.value)
        )
        section = {
            "id": iid,
            "name": indicator["plain_name"],
            "period": period,
            "city_value": percent(city_value),
            "summary": summary,
            "rows": rows,
            "chart": ranking_svg(prefix + "-rank", ranked, city_value),
            "chart_alt": (
                f"Chart of {indicator['plain_name'].lower()} in each centre area, highest first, with "
                f"the 95% range of each and the city's figure ({percent(city_value)}). {ranked_text}."
            ),
            "map": None,
            "map_alt": "",
        }
        if shapes is not None:
            section["map"] = comparison_map_svg(
                prefix + "-map", shapes.city, shapes.centres, statuses, numbers
            )
            section["map_alt"] = (
                "Map of the centre areas, each shaded by how it compares with the city: "
                + "; ".join(
                    f"{numbers[c]} {VS_PHRASES[s].format(place=CITY) if s in VS_PHRASES else 'not compared'}"
                    for c, s in statuses.items()
                )
            )
        sections.append(section)
    return {"la": la, "centres": centres, "sections": sections}


def _short_name(name: str) -> str:
    return re.sub(r"\s+Children's Centre$", "", name)


def _overview_summary(counts: dict[str, int], polarity: str) -> str:
    parts = []
    for status in ("better", "higher", "similar", "worse", "lower", "not compared"):
        if counts.get(status):
            n = counts[status]
            what = VS_PHRASES[status].format(place=CITY) if status in VS_PHRASES else "not compared"
            parts.append(f"{n} {'area is' if n == 1 else 'areas are'} {what}")
    return "; ".join(parts) + "."


# ---------------------------------------------------------------- PDF


def chromium_path() -> str | None:
    configured = os.environ.get("CC_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


_CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def print_pdf(html: Path, pdf: Path, chromium: str) -> None:
    """An A4 PDF of a page, printed by headless Chromium (the page's @page rule sets the size)."""
    with tempfile.TemporaryDirectory(prefix="cc-chromium-") as profile:
        temporary = pdf.with_name(f".{pdf.name}.tmp")
        command = [
            chromium,
            *_CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={temporary}",
            html.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if result.returncode != 0 or not temporary.exists() or temporary.stat().st_size == 0:
            temporary.unlink(missing_ok=True)
            raise NewsletterError(f"Chromium could not print {html.name}: {result.stderr[-500:]}")
        os.replace(temporary, pdf)


def _print_with_driver(pages: list[Path], chromium: str, chromedriver: str) -> None:
    """Every page printed in one browser session (DevTools Page.printToPDF): about 1 s a page
    instead of a new browser for each."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="cc-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in [*_CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        try:
            for page in pages:
                driver.get(page.resolve().as_uri())
                printed = driver.execute_cdp_cmd(
                    "Page.printToPDF",
                    {"preferCSSPageSize": True, "printBackground": True, "displayHeaderFooter": False},
                )
                pdf = page.with_suffix(".pdf")
                temporary = pdf.with_name(f".{pdf.name}.tmp")
                temporary.write_bytes(base64.b64decode(printed["data"]))
                os.replace(temporary, pdf)
        finally:
            driver.quit()


def print_pdfs(pages: Sequence[Path], chromium: str) -> list[Path]:
    chromedriver = os.environ.get("CC_CHROMEDRIVER") or shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401

        has_selenium = True
    except ImportError:
        has_selenium = False
    if chromedriver and has_selenium:
        _print_with_driver(list(pages), chromium, chromedriver)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda page: print_pdf(page, page.with_suffix(".pdf"), chromium), pages))
    return [page.with_suffix(".pdf") for page in pages]


# ---------------------------------------------------------------- writing


@dataclass
class Written:
    period: str
    folder: Path
    newsletters: list[Path]
    overviews: list[Path]
    pdfs: list[Path]
    index: Path
    public_csv: Path
    maps: bool
    notes: list[str]


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@dataclass(frozen=True)
class _Job:
    marts: Marts
    edition: Edition
    generated: str


# Set before the worker processes fork, so that they inherit the marts instead of being sent them.
_JOB: _Job | None = None


def centre_page(centre: dict, job: _Job) -> str:
    """One centre's newsletter as HTML."""
    marts, edition = job.marts, job.edition
    stem = file_stem(centre["area_code"])
    cards = [
        indicator_card(marts, edition, indicator, centre, prefix=f"{stem}-{i}")
        for i, indicator in enumerate(marts.indicators.to_dict("records"))
    ]
    groups = [
        {"feed": feed, "heading": heading, "cards": [c for c in cards if c["feed"] == feed]}
        for feed, heading in FEED_HEADINGS.items()
    ]
    shapes = marts.cities.get(centre["la_code"])
    area_map = area_map_alt = None
    if shapes is not None and centre["area_code"] in shapes.centres:
        area = shapes.centres[centre["area_code"]]
        area_map = centre_map_svg(f"{stem}-map", shapes.city, shapes.centres, centre["area_code"])
        area_map_alt = (
            f"Map of {centre['la_name']} with the {_short_name(centre['area_name'])} area filled in. "
            f"The area is {boundaries.whereabouts(shapes.city, area)}."
        )
    return render(
        "newsletter.html.j2",
        edition=edition,
        centre=centre,
        short_name=_short_name(centre["area_name"]),
        groups=[g for g in groups if g["cards"]],
        glance=glance(cards),
        breakdowns=breakdown_tables(marts, edition, centre),
        completeness=completeness_items(marts, edition, centre["area_code"]),
        area_map=area_map,
        area_map_alt=area_map_alt,
        city_page=f"city-{file_stem(centre['la_code'])}.html",
        generated=job.generated,
    )


def _centre_page_in_worker(centre: dict) -> str:
    assert _JOB is not None
    return centre_page(centre, _JOB)


def _render_centres(centres: list[dict], job: _Job) -> list[str]:
    """The centres' pages, on as many processes as CC_REPORT_WORKERS (default 2) allows:
    drawing the charts is most of the time."""
    global _JOB
    workers = int(os.environ.get("CC_REPORT_WORKERS", "2"))
    if workers <= 1 or len(centres) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [centre_page(centre, job) for centre in centres]
    _JOB = job
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(_centre_page_in_worker, centres))
    finally:
        _JOB = None


def write_newsletters(
    published_db: Path,
    reports_dir: Path,
    period_label: str | None = None,
    maps: bool = True,
    pdf: bool = True,
) -> Written:
    """Every centre's newsletter, the city overviews, the index and the public CSV.

    period_label: the quarter ('2024/25 Q3'); default CC_PERIOD, else the latest complete.
    maps: draw maps where the published copy has LSOA boundaries (dim_lsoa_boundary).
    pdf: print each page to an A4 PDF with headless Chromium, where Chromium is installed.
    """
    period_label = period_label or os.environ.get("CC_PERIOD") or None
    # one published version throughout, even if a build publishes a new one meanwhile
    published_db = published_db.resolve()
    marts = gather(published_db, maps=maps)
    edition = choose_edition(marts.periods, period_label)
    out = reports_dir / "newsletters" / edition.slug
    out.mkdir(parents=True, exist_ok=True)
    job = _Job(marts, edition, dt.datetime.now().strftime("%d %B %Y"))
    notes = []
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        public_csv = write_public_csv(con, reports_dir / "public" / "pub_indicator_values.csv")
    finally:
        con.close()
    have_maps = bool(marts.cities)
    if maps and not have_maps:
        notes.append("no LSOA boundary file was loaded: newsletters are made without maps")
    las = marts.areas[marts.areas["area_type"] == "la"].sort_values("area_code").to_dict("records")
    centres = marts.areas[marts.areas["area_type"] == "centre"].sort_values("area_code").to_dict("records")
    overviews = []
    for la in las:
        shapes = marts.cities.get(la["area_code"])
        path = out / f"city-{file_stem(la['area_code'])}.html"
        html = render(
            "newsletter_city.html.j2",
            edition=edition,
            overview=city_overview(marts, edition, la, shapes),
            generated=job.generated,
            has_map=shapes is not None,
        )
        _write(path, html)
        overviews.append(path)
    newsletters = []
    for centre, html in zip(centres, _render_centres(centres, job), strict=True):
        path = out / f"{file_stem(centre['area_code'])}.html"
        _write(path, html)
        newsletters.append(path)
    pdfs: list[Path] = []
    chromium = chromium_path() if pdf else None
    if pdf and chromium is None:
        notes.append("Chromium was not found (set CC_CHROMIUM): no PDFs were printed")
    elif chromium:
        pdfs = print_pdfs([*newsletters, *overviews], chromium)
    manifest = {
        "period_label": edition.quarter,
        "quarter_text": edition.quarter_text,
        "rolling": edition.rolling,
        "academic_year": edition.academic_year,
        "generated": job.generated,
        "centres": [
            {"code": c["area_code"], "name": c["area_name"], "file": p.name}
            for c, p in zip(centres, newsletters, strict=True)
        ],
        "overviews": [
            {"la_code": la["area_code"], "name": la["area_name"], "file": p.name}
            for la, p in zip(las, overviews, strict=True)
        ],
        "pdf": bool(pdfs),
    }
    _write(out / "manifest.json", json.dumps(manifest, indent=2))
    index = write_index(reports_dir)
    return Written(edition.quarter, out, newsletters, overviews, pdfs, index, public_csv, have_maps, notes)


def write_index(reports_dir: Path) -> Path:
    """The list of every newsletter written so far, the latest quarter first."""
    root = reports_dir / "newsletters"
    editions = []
    for manifest in root.glob("*/manifest.json"):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["folder"] = manifest.parent.name
        editions.append(data)
    editions.sort(key=lambda e: e["period_label"], reverse=True)
    path = root / "index.html"
    public_csv = reports_dir / "public" / "pub_indicator_values.csv"
    _write(
        path,
        render(
            "newsletter_index.html.j2",
            editions=editions,
            public_csv="../public/pub_indicator_values.csv" if public_csv.exists() else None,
        ),
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--period", help="the quarter, e.g. '2024/25 Q3' (default: CC_PERIOD or the latest complete)"
    )
    parser.add_argument("--no-pdf", action="store_true", help="write HTML only")
    parser.add_argument("--no-maps", action="store_true", help="leave out the maps")
    args = parser.parse_args(argv)
    settings = config.settings()
    published = settings.published_dir / PUBLISHED_DB
    if not published.exists():
        print(f"no published marts at {published}: run `make transform` first", file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        written = write_newsletters(
            published, settings.reports_dir, args.period, maps=not args.no_maps, pdf=not args.no_pdf
        )
    except NewsletterError as error:
        print(f"newsletters: {error}", file=sys.stderr)
        return 1
    for note in written.notes:
        print(f"newsletters: {note}")
    print(
        f"newsletters for {written.period}: {len(written.newsletters)} centres, "
        f"{len(written.pdfs)} PDFs, index {written.index} ({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
