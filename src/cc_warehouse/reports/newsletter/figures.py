"""What each page shows: a centre's indicator cards with their facts and charts, the
breakdown tables, how complete the records are, and the city overview's sections.
"""

from __future__ import annotations

from collections.abc import Sequence

from cc_warehouse.reports import boundaries
from cc_warehouse.reports.newsletter.charts import RankedArea, comparison_map_svg, ranking_svg, trend_svg
from cc_warehouse.reports.newsletter.data import Edition, Marts
from cc_warehouse.reports.newsletter.words import (
    BREAKDOWNS,
    CITY,
    ENGLAND,
    VS_PHRASES,
    _breakdown_value,
    _chart_value,
    _count,
    _fact_value,
    _number,
    _overview_summary,
    _short_name,
    _trend_fact,
    _vs_words,
    _year_earlier,
    change_sentence,
    comparison_sentence,
    headline_sentence,
    percent,
    revised_note,
    school_year_words,
    target_sentence,
)

# ---------------------------------------------------------------- building one newsletter


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
