"""Find the files in the landing folder and read each one whole.

Names the extract, reference and boundary files by feed folder and file name, refuses two
files of one feed with the same extract date, and reads a file only if it did not change
while it was read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cc_warehouse import config, progress
from cc_warehouse.ingest.contract import BOUNDARY_FILE, EXTRACT_FEEDS, EXTRACT_NAME, REFERENCE_FILES
from cc_warehouse.ingest.errors import LoadError


@dataclass(frozen=True)
class LandingFile:
    path: Path
    name: str  # relative to the landing folder, with forward slashes: the load-log key
    feed: str
    extract_date: dt.date


def shown(text: str) -> str:
    """Text as it may be printed: bytes of a file name that are not UTF-8 shown as \\xff."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def log(message: str) -> None:
    # File names come from outside: one that is not valid UTF-8 must not crash the print.
    progress.echo(shown(message))


# ---------------------------------------------------------------- discovery


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, or a link that loops
        return False
    return True


def _one_file_per_extract_date(extracts: list[LandingFile], loaded: dict | None = None) -> None:
    """Refuse two files of one feed with the same extract date (`maternity_20240601.csv` and
    `MATERNITY_20240601.CSV`), in the landing folder or (`loaded`: (feed, date) -> name) one
    loaded before: which copy of a record is the latest could not be known."""
    seen = dict(loaded or {})
    for extract in extracts:
        other = seen.setdefault((extract.feed, extract.extract_date), extract.name)
        if other != extract.name:
            raise LoadError(
                f"{extract.name}: refused: {other} has the same extract date; an extract date "
                "names one file (a correction arrives as a new extract with a later date)"
            )


def discover(landing: Path) -> tuple[list[LandingFile], list[LandingFile], Path | None]:
    """Extract files (oldest first), reference files and the optional boundary file."""
    if not landing.is_dir():
        raise LoadError(f"landing folder {landing} does not exist")
    extracts: list[LandingFile] = []
    references: list[LandingFile] = []
    boundaries: Path | None = None
    today = dt.date.today()
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith("."):
            continue
        if not _inside(entry, landing):
            raise LoadError(f"{shown(entry.name)}: points outside the landing folder; refused")
        if entry.is_file():
            if entry.name != config.DEMO_MARKER:
                log(f"warning: {entry.name}: not in a feed folder, ignored")
            continue
        if not entry.is_dir():  # a pipe, a socket, a broken link: never opened
            log(f"warning: {entry.name}: not a regular file or folder, ignored")
            continue
        if entry.name not in (*EXTRACT_FEEDS, "reference"):
            raise LoadError(
                f"{shown(entry.name)}/: unknown feed folder (expected maternity, health_visiting, "
                "ncmp or reference)"
            )
        for path in sorted(entry.iterdir()):
            relative = f"{entry.name}/{shown(path.name)}"
            if path.name.startswith("."):
                continue
            if not _inside(path, landing):
                raise LoadError(f"{relative}: points outside the landing folder; refused")
            if path.is_dir():
                log(f"warning: {relative}/: a folder inside a feed folder, ignored")
                continue
            if not path.is_file():
                raise LoadError(f"{relative}: not a regular file")
            if entry.name == "reference":
                if path.name == BOUNDARY_FILE:
                    boundaries = path
                elif path.name in REFERENCE_FILES:
                    references.append(LandingFile(path, relative, REFERENCE_FILES[path.name], today))
                else:
                    raise LoadError(
                        f"{relative}: unknown reference file (expected "
                        f"{', '.join(sorted(REFERENCE_FILES))} or {BOUNDARY_FILE})"
                    )
                continue
            match = EXTRACT_NAME.fullmatch(path.name)  # not match(): `$` passes a final newline
            if not match or match["feed"].lower() != entry.name:
                raise LoadError(f"{relative}: bad file name (expected {entry.name}_YYYYMMDD.csv)")
            try:
                extract_date = dt.datetime.strptime(match["date"], "%Y%m%d").date()
            except ValueError:
                raise LoadError(f"{relative}: bad file name ({match['date']} is not a date)") from None
            extracts.append(LandingFile(path, relative, entry.name, extract_date))
    extracts.sort(key=lambda f: (f.extract_date, f.feed))
    _one_file_per_extract_date(extracts)
    return extracts, references, boundaries


# ---------------------------------------------------------------- reading a file


_read_bytes = Path.read_bytes  # the reliability tests change a file while it is read


def read_settled(path: Path, name: str) -> bytes:
    """The file's bytes, if it did not change while it was read: a file still being copied
    into the landing folder is refused rather than committed half-written."""
    try:
        before = path.stat()
        data = _read_bytes(path)
        after = path.stat()
    except OSError as error:
        raise LoadError(f"{name}: cannot be read ({error.strerror or error})") from None
    changed = (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns)
    if changed or len(data) != after.st_size:
        raise LoadError(
            f"{name}: it changed while it was read (still being copied?): load again when the copy "
            "has finished"
        )
    return data
