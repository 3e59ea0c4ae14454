"""Deterministic demo city: synthetic extracts that follow the extract contract.

``cc demo --out DIR --seed 42`` writes a landing folder for "Demo City", a
fictional unitary authority (code E06999999) whose map lies on the Dogger Bank in the North
Sea, so that it can never be mistaken for a real place. Nothing in it describes a real person.

The model, in the order it is built (vectorised with numpy; pyarrow formats and writes the CSV):

1. Geography. LSOAs are the cells of a jittered grid clipped to a blob-shaped city. Recursive
   bisection groups them into local authorities, then children's centre areas and school
   catchments, so every area is contiguous. Each LSOA gets a deprivation score (a strong
   centre effect, an inner-city gradient and noise) that sets its IMD decile, its share of
   teenage mothers, its birth rate and, with a centre effect of its own, its ethnic mix.
   Fictional postcodes (areas DC, DM, ..., 15-25 per LSOA) map to the LSOAs.
2. Births. Deliveries per financial year follow the scale with a gentle fall. Logistic
   models whose intercepts are calibrated to city-wide targets give smoking (falling over
   time), multiple births, gestation, delivery method, still birth and breastfeeding, all
   worse in deprived areas; birth weight is log-normal around a gestation curve, calibrated
   to the term low-birth-weight rate. Some resident babies are born at other hospitals: they
   reach health visiting and NCMP but never the maternity extract.
3. Health visiting. Every live-born resident infant is due a new birth visit (day 14) and a
   6-8 week review (day 56). Contacts and feeding status are drawn with centre effects;
   feeding-status recording at the new birth visit rises from about 63% to 91%.
4. NCMP. Reception and Year 6 cohorts come from the births (children born before the
   maternity window, and movers-in, are drawn afresh). BMI is set from a UK90 z-score whose
   shift is calibrated to the obesity rates; height and weight follow from it.
5. Extracts. One maternity and one health-visiting extract per financial quarter, a few weeks
   after its end, and one NCMP extract per school year in the autumn. An extract also resends
   some records of the one before, with corrected values.
6. Bad input, at the low fixed rates of BAD_INPUT_RATES and FILE_QUIRK_SHARES: encodings,
   line endings, date formats, header spellings, extra columns, explicit unknown, unknown and
   impossible codes and values, NHS numbers failing Modulus 11, odd and unknown postcodes,
   rows without key or date. No file fails the load as a whole: rows are quarantined.

The same seed and flags give the same bytes.

The package, one module per stage: common (types, scale, random streams, numeric helpers, NHS
numbers, ethnic codes, spelling numbers as text), calendar (quarters and extract days),
geography, maternity, health_visiting and ncmp (each feed's model and its extract), extracts
(bad input in text columns, and which record goes into which file), files (writing the landing
folder). This module puts them together and holds the command line.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import pyarrow as pa

from cc_warehouse.config import DEMO_MARKER, settings
from cc_warehouse.demo.calendar import Calendar, build_calendar
from cc_warehouse.demo.common import PRESETS, SCALE_FLAGS, Scale, is_valid_nhs_number
from cc_warehouse.demo.files import REFERENCE_FILES, _marker_text, write_extract, write_reference
from cc_warehouse.demo.geography import CITY_LAT, CITY_LON, Geography, build_geography
from cc_warehouse.demo.health_visiting import (
    FEEDING_STATUSES,
    HEALTH_VISITING_COLUMNS,
    health_visiting_extract,
    simulate_reviews,
)
from cc_warehouse.demo.maternity import MATERNITY_COLUMNS, Births, maternity_extract, simulate_births
from cc_warehouse.demo.ncmp import NCMP_COLUMNS, OBESE_Z, UK90_BMI, _uk90, ncmp_extract, simulate_ncmp

# What other code and the tests use as demo.<name>; _uk90 and UK90_BMI are for the tests.
__all__ = [
    "CITY_LAT",
    "CITY_LON",
    "FEEDING_STATUSES",
    "HEALTH_VISITING_COLUMNS",
    "MATERNITY_COLUMNS",
    "NCMP_COLUMNS",
    "OBESE_Z",
    "PRESETS",
    "REFERENCE_FILES",
    "SCALE_FLAGS",
    "UK90_BMI",
    "LandingError",
    "Scale",
    "_parser",
    "_uk90",
    "generate",
    "is_valid_nhs_number",
    "keep_freed_memory",
    "main",
    "scale_from_args",
    "validate",
]


# --------------------------------------------------------------------------------------------
# Orchestration and command line
# --------------------------------------------------------------------------------------------


class LandingError(Exception):
    """The landing folder cannot take demo data."""


def _prepare_landing(landing: Path) -> None:
    """Refuse a folder of real extracts; clear the files of an earlier demo."""
    marker = landing / DEMO_MARKER
    if landing.exists() and any(landing.iterdir()) and not marker.exists():
        raise LandingError(
            f"{landing} is not empty and has no {DEMO_MARKER}: refusing to mix demo data with real extracts"
        )
    for pattern in (
        "maternity/maternity_*.csv",
        "health_visiting/health_visiting_*.csv",
        "ncmp/ncmp_*.csv",
        *(f"reference/{name}" for name in REFERENCE_FILES),
    ):
        for old in landing.glob(pattern):
            old.unlink()
    landing.mkdir(parents=True, exist_ok=True)


def validate(scale: Scale) -> list[str]:
    problems = []
    if scale.las < 1 or scale.years < 1:
        problems.append("--las and --years must be at least 1")
    if scale.centres < scale.las:
        problems.append("--centres must be at least --las (one centre per local authority)")
    if scale.lsoas < scale.centres:
        problems.append("--lsoas must be at least --centres (one LSOA per centre)")
    if scale.lsoas > 90_000:
        problems.append("--lsoas must be at most 90000")
    if scale.births_per_year < 100:
        problems.append("--births-per-year must be at least 100")
    if not 1950 <= scale.first_year <= 2100:
        problems.append("--first-year must be between 1950 and 2100")
    return problems


Written = list[tuple[Path, int]]


class _Forked:
    """Work done by a forked process, which inherits the model copy-on-write (nothing pickled)."""

    def __init__(self, work: Callable[[], Written]) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=lambda: send.send(work()), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> Written:
        try:
            written = self._receive.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(
                f"the forked generator process failed (exit code {self._process.exitcode})"
            ) from None
        self._process.join()
        return written


def _ncmp_files(
    landing: Path, births: Births, geo: Geography, calendar: Calendar, scale: Scale, seed: int
) -> Written:
    ncmp = simulate_ncmp(births, geo, calendar, scale, seed)
    return write_extract(landing, ncmp_extract(ncmp, geo, calendar, seed), seed)


def generate(landing: Path, scale: Scale, seed: int, processes: int = 2) -> dict[str, Written]:
    """Write the whole demo landing folder; returns the files written per feed.

    Every part draws from a random stream of its own, so with two processes NCMP is made in a
    forked process while this one writes the reference files, maternity and health visiting:
    the bytes do not depend on the number of processes.
    """
    problems = validate(scale)
    if problems:
        raise ValueError("; ".join(problems))
    _prepare_landing(landing)
    (landing / DEMO_MARKER).write_text(_marker_text(scale, seed), encoding="utf-8")
    calendar = build_calendar(scale, seed)
    geo = build_geography(scale, seed)
    births = simulate_births(geo, calendar, scale, seed)
    ncmp_files = partial(_ncmp_files, landing, births, geo, calendar, scale, seed)
    forked = _Forked(ncmp_files) if processes > 1 else None
    written = {"reference": write_reference(landing, geo)}
    written["maternity"] = write_extract(landing, maternity_extract(births, geo, calendar, seed), seed)
    reviews = simulate_reviews(births, geo, calendar, seed)
    written["health_visiting"] = write_extract(
        landing, health_visiting_extract(reviews, geo, calendar, seed), seed
    )
    del reviews
    written["ncmp"] = forked.result() if forked is not None else ncmp_files()
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc demo",
        description="Write a deterministic synthetic landing folder for the fictional Demo City.",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="landing folder (default: $CC_LANDING_DIR or data/landing)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="city",
        help="scale preset: city (default), region or england",
    )
    parser.add_argument("--births-per-year", type=int, help="births a year (city: 3000)")
    parser.add_argument("--centres", type=int, help="children's centre areas (city: 14)")
    parser.add_argument("--lsoas", type=int, help="LSOAs (city: 150)")
    parser.add_argument("--las", type=int, help="local authorities (city: 1)")
    parser.add_argument(
        "--first-year", type=int, help="first financial and academic year, e.g. 2019 for 2019/20"
    )
    parser.add_argument("--years", type=int, help="number of years (city: 6)")
    parser.add_argument(
        "--processes",
        type=int,
        choices=(1, 2),
        default=2,
        help="2 (default): NCMP is made in a second process; the files are the same either way",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser


def scale_from_args(args: argparse.Namespace) -> Scale:
    """The preset, with every scale flag given on the command line overriding it."""
    overrides = {name: getattr(args, name) for name in SCALE_FLAGS if getattr(args, name) is not None}
    return replace(PRESETS[args.preset], **overrides)


def keep_freed_memory() -> None:
    """Have freed memory reused for the next column instead of handed back to the kernel.

    The model allocates and frees arrays of millions of rows. By default glibc's malloc maps
    each one afresh and unmaps it when freed, and Arrow's mimalloc returns its pages, so the
    kernel faults in and zeroes new pages every time: a third of the CPU at england was system
    time. glibc is asked not to map big blocks separately nor trim its heap, and Arrow
    allocates through it; elsewhere nothing changes.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's malloc.h
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)
    pa.set_memory_pool(pa.system_memory_pool())


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must not be negative")
    scale = scale_from_args(args)
    problems = validate(scale)
    if problems:
        parser.error("; ".join(problems))
    landing = args.out if args.out is not None else settings().landing_dir
    started = time.perf_counter()
    try:
        written = generate(landing, scale, args.seed, args.processes)
    except LandingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        for feed, files in written.items():
            rows = sum(count for _, count in files)
            print(f"{feed:16s} {len(files):3d} files {rows:>12,d} rows")
        print(
            f"Demo City written to {landing} in {time.perf_counter() - started:.1f}s "
            f"(seed {args.seed}); marked synthetic by {DEMO_MARKER}"
        )
    return 0
