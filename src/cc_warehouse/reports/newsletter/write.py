"""Writing an edition: every centre's newsletter, the city overviews, their PDFs, the
index of every newsletter and the public CSV export.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cc_warehouse import config
from cc_warehouse.reports import boundaries
from cc_warehouse.reports.newsletter.charts import centre_map_svg
from cc_warehouse.reports.newsletter.data import Edition, Marts, choose_edition, gather
from cc_warehouse.reports.newsletter.figures import (
    breakdown_tables,
    city_overview,
    completeness_items,
    glance,
    indicator_card,
)
from cc_warehouse.reports.newsletter.pdf import chromium_path, print_pdfs
from cc_warehouse.reports.newsletter.words import FEED_HEADINGS, _short_name, file_stem
from cc_warehouse.reports.templating import render

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
