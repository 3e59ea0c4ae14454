"""Load the landing folder into the warehouse's raw zone, following shared/specs/extracts.md.

One run is one DuckDB transaction: if any file cannot be read as the contract, nothing from
the run is committed and the message names the file. Every row read is either accepted or
quarantined; the load log records both counts for every file.

    cc load            # uses CC_LANDING_DIR, CC_WAREHOUSE, CC_PSEUDO_KEY

This module is the run (and `withdraw`, and `main`); finding the landing files is in
discovery.py and writing one file into the raw zone in raw_zone.py.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cc_warehouse import config, progress
from cc_warehouse.ingest import validate
from cc_warehouse.ingest.contract import EXTRACT_FEEDS, FEEDS, REFERENCE_FILES
from cc_warehouse.ingest.csvfile import ExtractError, ParsedFile, parse
from cc_warehouse.ingest.discovery import (
    LandingFile,
    _one_file_per_extract_date,
    discover,
    log,
    read_settled,
)
from cc_warehouse.ingest.errors import LoadError, ValidationFailed
from cc_warehouse.ingest.pseudo import KeyError_, PseudoKey, choose_key
from cc_warehouse.ingest.raw_zone import (
    Stages,
    check_key,
    ensure_schema,
    load_boundaries,
    load_file,
    previous_sha,
)
from cc_warehouse.state import atomic, files

# DuckDB's share of the loader's memory unless CC_DUCKDB_MEMORY_LIMIT says otherwise: with the
# Arrow tables of two files beside it, the whole process stays well under 8 GiB at England
# scale (DuckDB keeps the blocks it wrote cached up to its limit).
LOADER_MEMORY_LIMIT = "3GB"


# ---------------------------------------------------------------- the run


def _fault_point(files_loaded: int) -> None:
    """Fault injection for the reliability tests: die mid-run as a power cut would."""
    kill_after = os.environ.get("CC_FAULT_KILL_AFTER_FILES")
    if kill_after and files_loaded >= int(kill_after):
        os.kill(os.getpid(), signal.SIGKILL)


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(warehouse), config=config.duckdb_config(LOADER_MEMORY_LIMIT))
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise LoadError(
                f"the warehouse {warehouse} is in use by another process (a load or build "
                "is running, or a tool holds it open): try again when it has finished"
            ) from None
        raise LoadError(f"cannot open the warehouse {warehouse}: {error}") from None
    except OSError as error:
        raise LoadError(f"cannot create the warehouse folder {warehouse.parent}: {error}") from None


def check_demo_marker(landing: Path) -> None:
    """A marker is the generator's: a copied-in empty file or note does not make real data demo."""
    marker = landing / config.DEMO_MARKER
    if not marker.is_file():
        return
    try:
        first_line = marker.read_bytes()[:200].decode("utf-8", "replace").splitlines()[0]
    except (OSError, IndexError):
        first_line = ""
    if first_line.strip() != config.DEMO_MARKER_FIRST_LINE:
        raise LoadError(
            f"{config.DEMO_MARKER} in the landing folder was not written by the demo generator; "
            "real extracts must not carry it. Remove it and set CC_PSEUDO_KEY."
        )


def _remove_empty_wal(warehouse: Path) -> None:
    """A failed commit (a full disk) can leave an empty write-ahead log: it holds nothing."""
    wal = warehouse.with_name(warehouse.name + ".wal")
    with contextlib.suppress(OSError):
        if wal.stat().st_size == 0:
            wal.unlink()


def _disk_error(error: Exception, settings: config.Settings) -> LoadError:
    return LoadError(
        f"the warehouse {settings.warehouse} could not be written ({str(error).splitlines()[0][:300]}); "
        "is the disk full?"
    )


def run(settings: config.Settings, validate_with_ge: bool = True, quiet: bool = False) -> dict[str, int]:
    key, is_demo = choose_key(settings.pseudo_key, settings.landing_dir)
    if is_demo:
        check_demo_marker(settings.landing_dir)
    extracts, references, boundaries = discover(settings.landing_dir)
    docs_dir = settings.reports_dir / "data_docs"
    if validate_with_ge:
        try:  # an output folder that cannot be written stops the run before anything changes
            docs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LoadError(
                f"cannot write the reports folder {docs_dir}: {error.strerror or error}"
            ) from None
    with atomic.pipeline_lock(settings, "load"):
        atomic.recover(settings)
        return _run_locked(
            settings, key, is_demo, extracts, references, boundaries, validate_with_ge, docs_dir, quiet
        )


@dataclass
class Prepared:
    """A file read, fingerprinted and (when it will be loaded) parsed, ahead of its turn."""

    landing_file: LandingFile
    sha: str
    data: bytes | None  # kept only when parsing was left for later
    parsed: ParsedFile | None
    seconds: float

    def parse(self) -> ParsedFile:
        assert self.data is not None
        return parse(self.data, self.landing_file.name, FEEDS[self.landing_file.feed].column_names)


def _prepare(landing_file: LandingFile, known: dict[str, str]) -> Prepared:
    started = time.perf_counter()
    data = read_settled(landing_file.path, landing_file.name)
    sha = hashlib.sha256(data).hexdigest()
    if landing_file.name in known:  # skipped or refused, decided in turn: no parsing ahead
        return Prepared(landing_file, sha, data, None, time.perf_counter() - started)
    parsed = parse(data, landing_file.name, FEEDS[landing_file.feed].column_names)
    return Prepared(landing_file, sha, None, parsed, time.perf_counter() - started)


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "- rows/s"


def _run_locked(
    settings: config.Settings,
    key: PseudoKey,
    is_demo: bool,
    extracts: list[LandingFile],
    references: list[LandingFile],
    boundaries: Path | None,
    validate_with_ge: bool,
    docs_dir: Path,
    quiet: bool = False,
) -> dict[str, int]:
    run_id = uuid.uuid4().hex[:12]
    started = dt.datetime.now()
    con = connect(settings.warehouse)
    totals = {"files_loaded": 0, "files_skipped": 0, "rows_read": 0, "rows_quarantined": 0}
    try:
        con.execute("begin transaction")
        ensure_schema(con)
        check_key(con, key)
        files = [*references, *extracts]
        loaded = con.execute(
            """select feed, extract_date, min(file_name) from raw.load_log
            where extract_date is not null group by feed, extract_date"""
        ).fetchall()
        _one_file_per_extract_date(extracts, {(feed, date): name for feed, date, name in loaded})
        known = dict(
            con.execute(
                "select file_name, arg_max(sha256, loaded_at) from raw.load_log group by file_name"
            ).fetchall()
        )
        # The next file is read and parsed in a thread (pyarrow releases the GIL) while DuckDB
        # checks and writes the current one: both cores stay busy. Files are still taken, and
        # their errors raised, in order.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(_prepare, files[0], known) if files else None
            for index, landing_file in enumerate(progress.bar(files, "loading", "file")):
                assert pending is not None
                started_file = time.perf_counter()
                prepared = pending.result()
                waited = time.perf_counter() - started_file
                pending = reader.submit(_prepare, files[index + 1], known) if index + 1 < len(files) else None
                sha = prepared.sha
                before = previous_sha(con, landing_file.name)
                if before == sha:
                    totals["files_skipped"] += 1
                    continue
                if before is not None and landing_file.feed in EXTRACT_FEEDS:
                    raise LoadError(
                        f"{landing_file.name}: refused: a different file was loaded under this name "
                        "before. A correction must arrive as a new extract with a later date."
                    )
                parsed = prepared.parsed if prepared.parsed is not None else prepared.parse()
                if parsed.ignored_columns:
                    log(
                        f"warning: {landing_file.name}: extra column(s) ignored: "
                        f"{', '.join(parsed.ignored_columns)}"
                    )
                stages = Stages()
                stages.seconds["read and parse"] = prepared.seconds
                result = load_file(con, landing_file, parsed, run_id, started, key, is_demo, stages)
                encoding, ignored = parsed.encoding, parsed.ignored_columns
                del parsed, prepared
                con.execute(
                    "insert into raw.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        landing_file.name,
                        landing_file.feed,
                        landing_file.extract_date,
                        sha,
                        result.rows_read,
                        result.rows_accepted,
                        result.rows_quarantined,
                        result.field_issues,
                        ", ".join(ignored) or None,
                        encoding,
                        None,
                        started,
                    ],
                )
                totals["files_loaded"] += 1
                _fault_point(totals["files_loaded"])
                totals["rows_read"] += result.rows_read
                totals["rows_quarantined"] += result.rows_quarantined
                seconds = time.perf_counter() - started_file
                if not quiet:
                    log(
                        f"{landing_file.name}: {result.rows_read} read, {result.rows_accepted} accepted, "
                        f"{result.rows_quarantined} quarantined, {result.field_issues} field issues "
                        f"({seconds:.2f} s, {_rate(result.rows_read, seconds)}, {encoding}; "
                        f"waited {waited:.2f} s for {stages})"
                    )
        if boundaries is not None:
            features = load_boundaries(con, boundaries, started)
            log(f"reference/{boundaries.name}: {features} LSOA boundaries")
        if not con.execute("select count(*) from raw.postcode_lsoa").fetchall()[0][0]:
            raise LoadError("reference/postcode_lsoa.csv is missing and none was loaded before")
        con.execute(
            "insert into raw.load_runs values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                started,
                dt.datetime.now(),
                str(settings.landing_dir),
                totals["files_loaded"],
                totals["files_skipped"],
                key.fingerprint,
                is_demo,
            ],
        )
        con.execute("commit")
    except BaseException as error:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        with contextlib.suppress(duckdb.Error):
            con.close()
        _remove_empty_wal(settings.warehouse)
        if isinstance(error, duckdb.IOException) or "No space left" in str(error):
            raise _disk_error(error, settings) from None
        if isinstance(error, duckdb.Error):
            raise LoadError(f"the warehouse refused the load: {str(error).splitlines()[0][:300]}") from None
        raise
    finally:
        with contextlib.suppress(duckdb.Error):
            con.close()
    # also when nothing new was loaded: files an interrupted run left unvalidated are done now
    if validate_with_ge:
        started_ge = time.perf_counter()
        try:
            outcome = validate.validate_run(settings.warehouse, run_id, docs_dir)
        except (OSError, duckdb.Error) as error:
            raise ValidationFailed(
                f"the Great Expectations validation could not be written ({error}); "
                "its results are missing from the load log and the Data Docs"
            ) from None
        failed = sorted(name for name, success in outcome.items() if not success)
        if outcome:
            log(
                f"great expectations: {len(outcome)} file(s) validated, {len(failed)} failed "
                f"({time.perf_counter() - started_ge:.1f} s){': ' + ', '.join(failed) if failed else ''}"
            )
    return totals


def withdraw(settings: config.Settings, file_name: str) -> dict[str, int]:
    """Take a loaded file back out of the warehouse, in one transaction: its rows in the raw
    zone, its quarantined rows and field issues, and its load-log entries. The file can then
    be loaded again under its name (a wrong file replaced by the right one, or a copy cut
    short completed). The next transform is then a full build. Returns rows removed by table."""
    with atomic.pipeline_lock(settings, "load"):
        atomic.recover(settings)
        if not settings.warehouse.is_file():
            raise LoadError(f"there is no warehouse at {settings.warehouse}")
        con = connect(settings.warehouse)
        try:
            con.execute("begin transaction")
            found = con.execute(
                "select distinct feed from raw.load_log where file_name = ?", [file_name]
            ).fetchall()
            if not found:
                raise LoadError(f"{file_name}: no file of that name was loaded (names as in load_log)")
            ((feed,),) = found
            raw_table = REFERENCE_FILES[Path(file_name).name] if feed == "reference" else feed
            removed = {}
            for table in (raw_table, "quarantine", "field_issues", "load_log"):
                ((count,),) = con.execute(
                    f"select count(*) from raw.{table} where file_name = ?", [file_name]
                ).fetchall()
                con.execute(f"delete from raw.{table} where file_name = ?", [file_name])
                removed[table] = count
            con.execute("commit")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            raise
        finally:
            con.close()
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--withdraw",
        metavar="FILE",
        help="take a loaded file (e.g. maternity/maternity_20240601.csv) back out of the warehouse",
    )
    parser.add_argument("--no-validate", action="store_true", help="skip the Great Expectations validation")
    parser.add_argument(
        "--quiet", action="store_true", help="no line per file: only warnings, errors and the summary"
    )
    args = parser.parse_args(argv)
    settings = config.settings()
    started = time.perf_counter()
    if args.withdraw:
        try:
            removed = withdraw(settings, args.withdraw)
        except (LoadError, files.StateError) as error:
            print(f"withdraw failed, nothing was changed: {error}", file=sys.stderr)
            return 1
        print(
            f"withdrawn {args.withdraw}: "
            + ", ".join(f"{count} row(s) from raw.{table}" for table, count in removed.items())
            + "; the file can be loaded again, and the next transform is a full build"
        )
        return 0
    try:
        totals = run(settings, validate_with_ge=not args.no_validate, quiet=args.quiet)
    except ValidationFailed as error:
        print(f"load committed, but {error}", file=sys.stderr)
        return 1
    except (LoadError, ExtractError, KeyError_, files.StateError) as error:
        print(f"load failed, nothing was committed: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    log(
        f"load complete: {totals['files_loaded']} file(s) loaded, {totals['files_skipped']} "
        f"already loaded, {totals['rows_read']} rows read, {totals['rows_quarantined']} "
        f"quarantined ({seconds:.1f} s, {_rate(totals['rows_read'], seconds)})"
    )
    return 0
