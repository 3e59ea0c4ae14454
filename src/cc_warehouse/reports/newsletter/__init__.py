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

The package, by concern: `data` reads the published marts and chooses the edition, `words`
puts figures into plain English, `figures` builds what each page shows, `charts` draws the
SVG charts and maps, `pdf` prints pages with Chromium, and `write` writes the newsletters,
the index and the public CSV.
"""

from __future__ import annotations

import argparse
import sys
import time

from cc_warehouse import config
from cc_warehouse.publish import PUBLISHED_DB
from cc_warehouse.reports.newsletter.data import Edition, Marts, choose_edition, gather
from cc_warehouse.reports.newsletter.errors import NewsletterError, NotEnoughData
from cc_warehouse.reports.newsletter.words import (
    CHANGE_PHRASES,
    CHANGE_SENTENCES,
    COMPARISON_SENTENCES,
    REVISED_SENTENCE,
    TREND_TOO_SHORT,
    TREND_WORDS,
    VS_PHRASES,
    _trend_fact,
    change_sentence,
    comparison_sentence,
    file_stem,
    headline_sentence,
    period_slug,
    revised_note,
    share_words,
    target_sentence,
)
from cc_warehouse.reports.newsletter.write import (
    PUBLIC_COLUMNS,
    Written,
    spreadsheet_safe,
    write_index,
    write_newsletters,
    write_public_csv,
)

__all__ = [
    "CHANGE_PHRASES",
    "CHANGE_SENTENCES",
    "COMPARISON_SENTENCES",
    "Edition",
    "Marts",
    "NewsletterError",
    "NotEnoughData",
    "PUBLIC_COLUMNS",
    "REVISED_SENTENCE",
    "TREND_TOO_SHORT",
    "TREND_WORDS",
    "VS_PHRASES",
    "Written",
    "_trend_fact",
    "change_sentence",
    "choose_edition",
    "comparison_sentence",
    "file_stem",
    "gather",
    "headline_sentence",
    "main",
    "period_slug",
    "revised_note",
    "share_words",
    "spreadsheet_safe",
    "target_sentence",
    "write_index",
    "write_newsletters",
    "write_public_csv",
]


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
