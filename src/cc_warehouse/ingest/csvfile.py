"""Reading one extract CSV into Arrow: encoding, header matching and unparseable rows.

Parsing is done by pyarrow's C++ reader; Python only looks at the header line and at the rows
the reader could not parse (which are quarantined, never dropped).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

UTF8_BOM = b"\xef\xbb\xbf"
# Large enough for any honest row; a longer "row" is reported as a file error, not a crash.
BLOCK_SIZE = 64 << 20
SCAN_BATCH_ROWS = 122_880


class ExtractError(Exception):
    """A file that cannot be read as the contract: the whole load stops, naming the file."""


@dataclass
class ParsedFile:
    table: pa.Table  # one string column per contract column (trimmed, blank NULL), source_row
    encoding: str
    ignored_columns: list[str]
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (source_row, text)
    # The columns in which some value holds a line break (a quote that ran on); None: unknown.
    broken_columns: tuple[str, ...] | None = None

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.bad_rows)


def decode(data: bytes, name: str) -> tuple[bytes, str]:
    """Return the bytes as UTF-8 and the encoding they arrived in."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4096].count(b"\x00") > len(data[:4096]) // 10:
        # UTF-16 (or 32), with or without its byte-order mark: as Windows-1252 it would be a
        # header of letters and NUL bytes, and a baffling "missing column"
        raise ExtractError(
            f"{name}: unreadable encoding (UTF-16, it seems: save it as UTF-8 or Windows-1252 CSV)"
        )
    if data.startswith(UTF8_BOM):
        data, encoding = data[len(UTF8_BOM) :], "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        data.decode("utf-8")
        return data, encoding
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252").encode("utf-8"), "windows-1252"
    except UnicodeDecodeError as error:
        raise ExtractError(
            f"{name}: unreadable encoding (neither UTF-8 nor Windows-1252: {error.reason} "
            f"at byte {error.start})"
        ) from None


# The characters DuckDB's trim() removes (Unicode category Zs, not tabs or line breaks): the
# loader's values have always been trimmed as DuckDB does, here done by Arrow while the file
# is read, at a fraction of the cost.
SPACES = (
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)


def trimmed(table: pa.Table) -> pa.Table:
    """Every column without surrounding spaces, and NULL where nothing is left."""
    columns = []
    for column in table.columns:
        text = pc.utf8_trim(column, SPACES)
        columns.append(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text))
    return pa.table(columns, names=table.column_names)


def normalise_header(name: str) -> str:
    return name.strip().lower()


def parse(data: bytes, name: str, required: tuple[str, ...]) -> ParsedFile:
    """Parse an extract; every row ends up in the table or in bad_rows."""
    data, encoding = decode(data, name)
    # The reader skips the header as one physical line (up to CR or LF): blank lines before
    # it are dropped, and a header whose quotes run past its line is refused, so that the
    # header read here is exactly the line the reader skips.
    data = data.lstrip(b"\r\n")
    if not data.strip():
        raise ExtractError(f"{name}: the file is empty (no header row)")
    first_line = re.match(rb"[^\r\n]*", data).group().decode("utf-8")
    if first_line.count('"') % 2:
        raise ExtractError(f"{name}: the header row has an unclosed quote: {first_line[:300]!r}")
    try:
        header = next(csv.reader([first_line], strict=True), [])
    except csv.Error as error:
        raise ExtractError(f"{name}: the header row cannot be read ({error}): {first_line[:300]!r}") from None
    positions: dict[str, int] = {}
    duplicated: list[str] = []
    for position, raw_name in enumerate(header):
        column = normalise_header(raw_name)
        if column in positions:
            duplicated.append(column)
        positions.setdefault(column, position)
    missing = [column for column in required if column not in positions]
    if missing:
        raise ExtractError(
            f"{name}: missing required column(s) {', '.join(missing)} (header was: {first_line[:300]!r})"
        )
    clashes = sorted(set(duplicated) & set(required))
    if clashes:
        raise ExtractError(f"{name}: column(s) {', '.join(clashes)} appear more than once")
    ignored = [raw.strip() for raw in header if normalise_header(raw) not in required]

    bad_rows: list[tuple[int, str]] = []

    def keep_bad_row(row: pacsv.InvalidRow) -> str:
        # pyarrow numbers records from 1 at the header row; source_row counts data rows.
        bad_rows.append((row.number - 1, row.text))
        return "skip"

    generated = [f"c{i}" for i in range(len(header))]

    def read(handler: Callable[[pacsv.InvalidRow], str] | None) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=BLOCK_SIZE,
                column_names=generated,
                skip_rows=1,
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                column_types={column: pa.string() for column in generated},
                include_columns=[f"c{positions[column]}" for column in required],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        # A handler for invalid rows makes the reader three times slower: read without one
        # first, and again with it only when some row has the wrong number of fields.
        try:
            table = read(None)
        except pa.ArrowInvalid:
            table = read(keep_bad_row)
    except (pa.ArrowInvalid, pa.ArrowException) as error:
        raise ExtractError(f"{name}: cannot be parsed as CSV ({error})") from None
    table = trimmed(table.rename_columns(list(required)))
    # pyarrow skips header-only blank lines silently; the remaining rows keep their order.
    total = table.num_rows + len(bad_rows)
    if bad_rows and bad_rows[-1][0] == total and not data.endswith((b"\n", b"\r")):
        raise ExtractError(
            f"{name}: the last line is cut short (row {total} has too few fields and no line break "
            "ends it): the file may still be being copied; load it again when it is complete"
        )
    if bad_rows and len(bad_rows) == total and all(text.rstrip("\r\n").endswith(",") for _, text in bad_rows):
        raise ExtractError(
            f"{name}: every row ends with an empty field the header does not have (a comma at the "
            "end of each line): remove it, or give that column a name in the header"
        )
    # A mask rather than np.setdiff1d, which hashes every row number (half of the parse).
    good = np.ones(total, dtype=bool)
    bad_numbers = np.fromiter((number for number, _ in bad_rows), dtype=np.int64)
    good[bad_numbers[(bad_numbers >= 1) & (bad_numbers <= total)] - 1] = False
    good_numbers = np.flatnonzero(good) + 1
    if len(good_numbers) != table.num_rows:  # the reader numbered rows some other way
        good_numbers = np.arange(1, table.num_rows + 1, dtype=np.int64)
    table = table.append_column("source_row", pa.array(good_numbers, type=pa.int64()))
    # DuckDB scans an Arrow table one batch per thread: batches of a DuckDB row group let
    # both cores work on one file (the reader makes one batch per 64 MB block).
    table = pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_BATCH_ROWS), table.schema)
    return ParsedFile(table, encoding, ignored, bad_rows, _with_line_breaks(table, required, b'"' in data))


def _with_line_breaks(table: pa.Table, names: tuple[str, ...], quoted: bool) -> tuple[str, ...]:
    """The columns in which some value holds a line break: only a quoted value can."""
    if not quoted:
        return ()
    return tuple(
        name
        for name in names
        if any(pc.any(pc.match_substring(table[name], eol)).as_py() for eol in ("\n", "\r"))
    )
