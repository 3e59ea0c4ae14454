"""`make reports`: every report, from the published marts (never the live warehouse)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from cc_warehouse import config
from cc_warehouse.publish import PUBLISHED_DB
from cc_warehouse.reports import dq_report, newsletter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--period", help="newsletter quarter, e.g. '2024/25 Q3' (default: CC_PERIOD or the latest complete)"
    )
    args = parser.parse_args(argv)
    settings = config.settings()
    published = settings.published_dir / PUBLISHED_DB
    if not published.exists():
        print(f"no published marts at {published}: run `make transform` first", file=sys.stderr)
        return 1
    started = time.perf_counter()
    path = dq_report.write_report(published, settings.reports_dir)
    print(f"data-quality report: {path} ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    requested = args.period or os.environ.get("CC_PERIOD")
    try:
        written = newsletter.write_newsletters(published, settings.reports_dir, args.period)
    except newsletter.NotEnoughData as error:
        if requested:
            print(f"newsletters: {error}", file=sys.stderr)
            return 1
        # A city with less than a year of data still gets its data-quality report.
        print(f"newsletters: none yet, {error}")
        return 0
    except newsletter.NewsletterError as error:
        print(f"newsletters: {error}", file=sys.stderr)
        return 1
    for note in written.notes:
        print(f"newsletters: {note}")
    print(
        f"newsletters for {written.period}: {len(written.newsletters)} centres, {len(written.pdfs)} PDFs, "
        f"index {written.index}; public export {written.public_csv} ({time.perf_counter() - started:.1f} s)"
    )
    return 0
