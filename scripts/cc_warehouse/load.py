"""Load the landing folder into the warehouse's raw zone, following shared/specs/extracts.md.

One run is one DuckDB transaction: if any file cannot be read as the contract, nothing from
the run is committed and the message names the file. Every row read is either accepted or
quarantined; the load log records both counts for every file.

    python -m cc_warehouse.load            # uses CC_LANDING_DIR, CC_WAREHOUSE, CC_PSEUDO_KEY
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
import numpy as np
import pyarrow as pa

from . import atomic, config, disclosure_audit, validate
from .checks import checked_sql, without_whitespace
from .contract import (
    BOUNDARY_FILE,
    EXTRACT_FEEDS,
    EXTRACT_NAME,
    FEEDS,
    REFERENCE_FILES,
    Feed,
)
from .csvfile import ExtractError, ParsedFile, parse
from .pseudo import KeyError_, PseudoKey, choose_key, hmac_sql

RAW_RECORD_LIMIT = 10_000
META_COLUMNS = "file_name varchar, extract_date date, source_row bigint, loaded_at timestamp"
AUDIT_DDL = {
    "load_runs": """run_id varchar, started_at timestamp, finished_at timestamp,
        landing_dir varchar, files_loaded integer, files_skipped integer,
        key_fingerprint varchar, demo boolean""",
    "load_log": """run_id varchar, file_name varchar, feed varchar, extract_date date,
        sha256 varchar, rows_read bigint, rows_accepted bigint, rows_quarantined bigint,
        field_issues bigint, ignored_columns varchar, encoding varchar, ge_success boolean,
        loaded_at timestamp""",
    "quarantine": """run_id varchar, file_name varchar, feed varchar, source_row bigint,
        reason varchar, record_key varchar, raw_record varchar, loaded_at timestamp""",
    "field_issues": """run_id varchar, file_name varchar, feed varchar, source_row bigint,
        record_key varchar, field varchar, raw_value varchar, reason varchar,
        loaded_at timestamp""",
}
SQL_TYPES = {"date": "date", "int": "integer", "decimal": "double"}
# DuckDB's share of the loader's memory unless CC_DUCKDB_MEMORY_LIMIT says otherwise: with the
# Arrow tables of two files beside it, the whole process stays well under 8 GiB at England
# scale (DuckDB keeps the blocks it wrote cached up to its limit).
LOADER_MEMORY_LIMIT = "3GB"


class LoadError(Exception):
    """The run stopped; nothing it did was committed."""


class ValidationFailed(LoadError):
    """The load was committed, but its validation could not be completed."""


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
    print(shown(message), flush=True)


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


# ---------------------------------------------------------------- warehouse


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for name, columns in AUDIT_DDL.items():
        con.execute(f"create table if not exists raw.{name} ({columns})")
        con.execute(f"create or replace view main.{name} as select * from raw.{name}")
    for feed in FEEDS.values():
        columns = ", ".join(f"{c.output} {SQL_TYPES.get(c.kind, 'varchar')}" for c in feed.columns)
        con.execute(f"create table if not exists raw.{feed.name} ({columns}, {META_COLUMNS})")
    con.execute(
        "create table if not exists raw.lsoa_boundaries "
        "(lsoa_code varchar, geometry varchar, file_name varchar, loaded_at timestamp)"
    )
    con.execute(disclosure_audit.SUPPRESSIONS_DDL)  # written by the transform's audit


def check_key(con: duckdb.DuckDBPyConnection, key: PseudoKey) -> None:
    known = {row[0] for row in con.execute("select distinct key_fingerprint from raw.load_runs").fetchall()}
    if known and key.fingerprint not in known:
        raise LoadError(
            "CC_PSEUDO_KEY is not the key this warehouse was built with: records would no "
            "longer link. Use the original key, or start a new warehouse."
        )


def previous_sha(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute(
        "select sha256 from raw.load_log where file_name = ? order by loaded_at desc limit 1",
        [name],
    ).fetchall()
    return row[0][0] if row else None


# ---------------------------------------------------------------- one file


@dataclass
class FileResult:
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    field_issues: int


class Stages:
    """Seconds spent in each stage of one file, for the progress line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._started
        self._started = now

    def __str__(self) -> str:
        return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in self.seconds.items())


def _nhs_columns(feed: Feed) -> list[str]:
    return [column.name for column in feed.columns if column.kind == "nhs"]


def pseudonymised_sql(feed: Feed, rows: str) -> str:
    """`rows` (some rows of `checked`, as a relation) with every valid NHS number replaced by
    its pseudonym, using the hmac_* parameters (`key_params`).

    The HMAC is computed in the statement that writes the rows. Hashing every number as it
    is written, even one met in an earlier row or file, costs less than looking the numbers
    up: at England the joins to a table of numbers already hashed took longer than the
    hashing they saved.
    """
    columns = _nhs_columns(feed)
    if not columns:
        return rows
    replaced = ", ".join(f"{hmac_sql(f'v_{name}')} as v_{name}" for name in columns)
    return f"(select file_rows.* replace ({replaced}) from {rows} as file_rows)"


def key_params(feed: Feed, key: PseudoKey) -> dict[str, bytes]:
    """The key's parameters for a statement over `pseudonymised_sql` (DuckDB refuses
    parameters a statement does not use, and a feed without NHS numbers uses none)."""
    return key.params() if _nhs_columns(feed) else {}


def load_file(
    con: duckdb.DuckDBPyConnection,
    landing_file: LandingFile,
    parsed: ParsedFile,
    run_id: str,
    loaded_at: dt.datetime,
    key: PseudoKey,
    is_demo: bool = False,
    stages: Stages | None = None,
) -> FileResult:
    stages = stages if stages is not None else Stages()
    feed = FEEDS[landing_file.feed]
    con.register("incoming", parsed.table)
    if is_demo:
        check_demo_numbers(con, feed, landing_file.name)
    sql = checked_sql(feed, parsed.broken_columns)
    params = {"extract_date": landing_file.extract_date}
    # DuckDB refuses parameters a statement does not use (reference files have no dates).
    params = {name: value for name, value in params.items() if f"${name}" in sql}
    con.execute(f"create or replace temp table checked as {sql}", params)
    _register_flagged(con, feed, parsed)
    con.unregister("incoming")
    stages.done("check")
    meta = {
        "file_name": landing_file.name,
        "extract_date": landing_file.extract_date,
        "loaded_at": loaded_at,
        "run_id": run_id,
        "feed": feed.name,
    }
    if feed.reference:
        con.execute(f"delete from raw.{feed.name}")
    outputs = ", ".join(c.output for c in feed.columns)
    values = ", ".join(f"v_{c.name}" for c in feed.columns)
    hmac_params = key_params(feed, key)
    accepted_rows = pseudonymised_sql(feed, "(select * from checked where reason is null)")
    con.execute(
        f"""insert into raw.{feed.name} ({outputs}, file_name, extract_date, source_row, loaded_at)
        select {values}, $file_name, $extract_date, source_row, $loaded_at
        from {accepted_rows} as accepted""",
        {**{k: meta[k] for k in ("file_name", "extract_date", "loaded_at")}, **hmac_params},
    )
    quarantined_rows = pseudonymised_sql(feed, "(select * from checked where reason is not null)")
    _quarantine(con, feed, quarantined_rows, parsed.bad_rows, meta, hmac_params)
    issues = _field_issues(con, feed, meta)
    accepted, quarantined = con.execute(
        "select count(*) filter (where reason is null), count(*) filter (where reason is not null) "
        "from checked"
    ).fetchall()[0]
    con.execute("drop table checked")
    con.unregister("flagged")
    stages.done("write")
    quarantined += len(parsed.bad_rows)
    result = FileResult(parsed.rows_read, accepted, quarantined, issues)
    if result.rows_read != accepted + quarantined:  # a broken promise: stop the run
        raise LoadError(f"{landing_file.name}: rows do not reconcile ({result})")
    return result


def _register_flagged(con: duckdb.DuckDBPyConnection, feed: Feed, parsed: ParsedFile) -> None:
    """Register `flagged`: the raw text (`r_<column>`) of the rows quarantined or with an issue.

    They are few; taking them from the Arrow table by position (source_row increases down
    the table) spares copying the text of every row into `checked`.
    """
    issue = " or ".join(f"i_{c.name} is not null" for c in feed.columns)
    numbers = con.execute(
        f"select source_row from checked where reason is not null or {issue} order by source_row"
    ).fetchnumpy()["source_row"]
    table = parsed.table
    positions = np.searchsorted(table.column("source_row").to_numpy(), numbers)
    flagged = table.take(pa.array(positions, pa.int64()))
    names = [name if name == "source_row" else f"r_{name}" for name in flagged.column_names]
    con.register("flagged", flagged.rename_columns(names))


def _record_json(feed: Feed) -> str:
    """The quarantined row as JSON: NHS numbers only as pseudonyms, never in clear."""
    parts = []
    for column in feed.columns:
        value = f"r_{column.name}"
        if column.kind == "nhs":
            value = (
                f"case when r_{column.name} is null then null "
                f"else coalesce(v_{column.name}, 'invalid number (masked)') end"
            )
        parts.append(f"'{column.output}', {value}")
    return f"left(cast(json_object({', '.join(parts)}) as varchar), {RAW_RECORD_LIMIT})"


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    quarantined_rows: str,
    bad_rows: list[tuple[int, str]],
    meta: dict,
    params: dict[str, bytes],
) -> None:
    columns = "run_id, file_name, feed, source_row, reason, record_key, raw_record, loaded_at"
    con.execute(
        f"""insert into raw.quarantine ({columns})
        select $run_id, $file_name, $feed, source_row, reason, r_{feed.key}, {_record_json(feed)},
            $loaded_at
        from {quarantined_rows} as quarantined join flagged using (source_row)""",
        {**{k: meta[k] for k in ("run_id", "file_name", "feed", "loaded_at")}, **params},
    )
    if not bad_rows:
        return
    unparsed = pa.table(
        {
            "source_row": pa.array([number for number, _ in bad_rows], pa.int64()),
            "text": pa.array([text for _, text in bad_rows], pa.string()),
        }
    )
    con.register("unparsed", unparsed)
    # Digits that could be an NHS number are masked: a broken row has no trustworthy columns.
    con.execute(
        f"""insert into raw.quarantine ({columns})
        select $run_id, $file_name, $feed, source_row,
            'row could not be parsed (wrong number of fields)', null,
            left(regexp_replace(text, '[0-9][0-9 -]{{8,14}}[0-9]', '##########', 'g'),
                 {RAW_RECORD_LIMIT}),
            $loaded_at
        from unparsed""",
        {k: meta[k] for k in ("run_id", "file_name", "feed", "loaded_at")},
    )
    con.unregister("unparsed")


def _field_issues(con: duckdb.DuckDBPyConnection, feed: Feed, meta: dict) -> int:
    # One row per field with an issue: each flagged row unnested into its fields.
    fields = ", ".join(
        f"{{'field': '{column.output}', "
        f"'raw_value': {'cast(null as varchar)' if column.kind == 'nhs' else f'left(r_{column.name}, 200)'}, "
        f"'reason': i_{column.name}}}"
        for column in feed.columns
    )
    (inserted,) = con.execute(
        f"""insert into raw.field_issues
            (run_id, file_name, feed, source_row, record_key, field, raw_value, reason, loaded_at)
        select $run_id, $file_name, $feed, source_row, record_key, issue.field, issue.raw_value,
            issue.reason, $loaded_at
        from (
            select source_row, r_{feed.key} as record_key, unnest([{fields}]) as issue
            from checked join flagged using (source_row)
            where reason is null
        )
        where issue.reason is not null""",
        {k: meta[k] for k in ("run_id", "file_name", "feed", "loaded_at")},
    ).fetchone()
    return inserted


# The property naming an LSOA, matched case-insensitively as header names are (ONS files
# say lsoa11cd, LSOA11CD or LSOA21CD), in this order of preference.
LSOA_PROPERTIES = ("lsoa_code", "lsoa21cd", "lsoa11cd")


def load_boundaries(con: duckdb.DuckDBPyConnection, path: Path, loaded_at: dt.datetime) -> int:
    """Replace the LSOA boundaries with the features of a GeoJSON FeatureCollection, in its
    own coordinates (WGS84 or British National Grid: the maps draw both). Anything else is
    refused, naming the file, and the boundaries loaded before are kept."""
    name = f"reference/{path.name}"
    try:
        con.execute("create or replace temp table geo as select content from read_text(?)", [str(path)])
        kind, features = con.execute(
            """select json_extract_string(content, '$.type'),
                json_array_length(json_extract(content, '$.features'))
            from geo"""
        ).fetchone()
    except duckdb.Error as error:
        raise LoadError(f"{name}: not GeoJSON ({error}); the boundaries loaded before are kept") from None
    if kind != "FeatureCollection" or not features:
        found = f"a {kind}" if kind else "no GeoJSON type"
        raise LoadError(
            f"{name}: not a GeoJSON FeatureCollection with features ({found}, "
            f"{features or 0} features); the boundaries loaded before are kept"
        )
    con.execute(
        """create or replace temp table features as
        select unnest(cast(json_extract(content, '$.features') as json[])) as feature from geo"""
    )
    codes = ", ".join(
        f"""json_extract_string(feature -> '$.properties', '$."' ||
            list_filter(json_keys(feature -> '$.properties'), lambda k: lower(k) = '{key}')[1] || '"')"""
        for key in LSOA_PROPERTIES
    )
    con.execute("delete from raw.lsoa_boundaries")
    con.execute(
        f"""insert into raw.lsoa_boundaries
        select coalesce({codes}), cast(feature -> '$.geometry' as varchar), ?, ?
        from features""",
        [name, loaded_at],
    )
    count, unnamed = con.execute(
        "select count(*), count(*) filter (where lsoa_code is null) from raw.lsoa_boundaries"
    ).fetchall()[0]
    if unnamed:
        raise LoadError(f"{name}: {unnamed} feature(s) have no lsoa_code, LSOA21CD or LSOA11CD property")
    return count


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


def check_demo_numbers(con: duckdb.DuckDBPyConnection, feed: Feed, name: str) -> None:
    """The demo city's NHS numbers all start with 9, outside the ranges issued to patients.

    A folder marked as the demo that holds a number from the issued ranges is real data
    carrying a copied marker: it would be pseudonymised with the public demo key. Stop.
    """
    columns = [c.name for c in feed.columns if c.kind == "nhs"]
    if not columns:
        return
    issued = " or ".join(
        f"case when regexp_full_match({c}, '[0-9]{{10}}') then left({c}, 1) <> '9' "
        f"else regexp_full_match({without_whitespace(c, also='-')}, '[0-8][0-9]{{9}}') end"
        for c in columns
    )
    (count,) = con.execute(f"select count(*) from incoming where {issued}").fetchone()
    if count:
        raise LoadError(
            f"{name}: the landing folder is marked as the synthetic demo ({config.DEMO_MARKER}) but "
            f"{count} row(s) hold NHS numbers from the ranges issued to patients (the demo's all "
            "start with 9). Real extracts must not be loaded as the demo: remove the marker and "
            "set CC_PSEUDO_KEY."
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
            for index, landing_file in enumerate(files):
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
        except (LoadError, atomic.StateError) as error:
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
    except (LoadError, ExtractError, KeyError_, atomic.StateError) as error:
        print(f"load failed, nothing was committed: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    log(
        f"load complete: {totals['files_loaded']} file(s) loaded, {totals['files_skipped']} "
        f"already loaded, {totals['rows_read']} rows read, {totals['rows_quarantined']} "
        f"quarantined ({seconds:.1f} s, {_rate(totals['rows_read'], seconds)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
