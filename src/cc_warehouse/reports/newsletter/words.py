"""The newsletter's plain-English words: comparisons with the city and England, changes,
trends, targets, revised figures, hidden (*) and unreliable figures, periods and file names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

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


# ---------------------------------------------------------------- figures and names in words


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


def _chart_value(value: float | None) -> str:
    return "not shown" if value is None else percent(value)


def _breakdown_value(row: dict | None) -> str:
    if row is None:
        return "none"
    if row["is_suppressed"]:
        return "*"
    if row["low_coverage"]:
        return "not reliable"
    return percent(_number(row["value_pct"]))


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
