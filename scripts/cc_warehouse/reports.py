"""`make reports`: every report, from the published marts (never the live warehouse)."""

from __future__ import annotations

import sys
import time

from . import config, dq_report
from .publish import PUBLISHED_DB


def main(argv: list[str] | None = None) -> int:
    settings = config.settings()
    published = settings.published_dir / PUBLISHED_DB
    if not published.exists():
        print(f"no published marts at {published}: run `make transform` first", file=sys.stderr)
        return 1
    started = time.perf_counter()
    path = dq_report.write_report(published, settings.reports_dir)
    print(f"data-quality report: {path} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
