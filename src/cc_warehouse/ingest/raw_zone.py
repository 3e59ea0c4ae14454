"""The warehouse side of one file: the raw zone's tables, and a file written into them.

Creates the raw schema and audit tables, checks the pseudonymisation key, writes a file's
accepted rows (NHS numbers pseudonymised), its quarantined rows and field issues, checks the
demo's NHS numbers, and replaces the LSOA boundaries.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from cc_warehouse import config
from cc_warehouse.build import disclosure_audit
from cc_warehouse.ingest.checks import checked_sql, without_whitespace
from cc_warehouse.ingest.contract import FEEDS, Feed
from cc_warehouse.ingest.csvfile import ParsedFile
from cc_warehouse.ingest.discovery import LandingFile
from cc_warehouse.ingest.errors import LoadError
from cc_warehouse.ingest.pseudo import PseudoKey, hmac_sql

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


# ---------------------------------------------------------------- the demo's numbers


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
