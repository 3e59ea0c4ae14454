"""SQL that applies the contract's column rules to one parsed file.

`checked_sql(feed)` selects, for every row of the registered Arrow table `incoming`:
`v_<column>` (the cleaned, typed value or NULL), `i_<column>` (why the raw value was
impossible, or NULL) and `reason` (why the whole row is quarantined, or NULL). The raw text
(`r_<column>` inside the statement: `incoming`'s value, trimmed, NULL when blank) is not
selected: only the few quarantined rows and rows with an issue need it, and the loader takes
those from the Arrow table (materialising the text of every row cost more than all the
checks). The extract date arrives as the parameter `$extract_date`.

For NHS numbers `v_<column>` holds the ten digits of a valid number: the loader replaces them
by their pseudonym when it writes (`pseudo.py`), hashing each distinct number once per run.
"""

from __future__ import annotations

from cc_warehouse.config import sql_string as _quote
from cc_warehouse.ingest.contract import Column, Feed
from cc_warehouse.ingest.pseudo import modulus11_sql

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
DATE_PATTERNS = ("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}")  # the same, shaped
EARLIEST_DATE = "1900-01-01"  # before it, a date is impossible
# NHS numbers of one digit repeated (0000000000, 9999999999, ...): each passes the Modulus 11
# check (the weights 10 to 2 add up to 54, one less than a multiple of 11), and systems send
# them for "not known"; as pseudonyms they would link strangers' records
PLACEHOLDER_NHS_NUMBERS = tuple(digit * 10 for digit in "0123456789")
# What the regular expression class \s matches (RE2: tab, newline, form feed, return, space).
WHITESPACE = "(' ' || chr(9) || chr(10) || chr(12) || chr(13))"


def without_whitespace(expression: str, also: str = "") -> str:
    """The expression with every \\s character (and the characters in `also`) removed."""
    characters = WHITESPACE if not also else f"({WHITESPACE} || {_quote(also)})"
    return f"translate({expression}, {characters}, '')"


def _in(expression: str, values: tuple[str, ...]) -> str:
    if not values:
        return "false"
    return f"{expression} in ({', '.join(_quote(v) for v in values)})"


def _date(raw: str) -> str:
    """The date, when the text has a four-digit year in one of DATE_FORMATS (strptime alone
    reads `01/05/24` as the year 24)."""
    attempts = " ".join(
        f"when regexp_full_match({raw}, {_quote(pattern)}) then try_strptime({raw}, {_quote(form)})"
        for form, pattern in zip(DATE_FORMATS, DATE_PATTERNS, strict=True)
    )
    return f"cast(case {attempts} end as date)"


def _range_issue(number: str, column: Column) -> str:
    return (
        f"when {number} < {column.low} or {number} > {column.high} "
        f"then 'outside the possible range {column.low:g} to {column.high:g}'"
    )


def prepared(column: Column) -> str | None:
    """An expression computed once per row (`p_<column>`) that the checks then reuse."""
    raw = f"r_{column.name}"
    return {
        # Fast paths first: translate() costs several times a regular-expression match.
        "postcode": (
            f"upper(case when regexp_full_match({raw}, '[0-9A-Za-z ]*') then replace({raw}, ' ', '') "
            f"else {without_whitespace(raw)} end)"
        ),
        "code": f"upper({raw})",
        "date": _date(raw),
        "int": f"try_cast({raw} as double)",
        "decimal": f"try_cast({raw} as double)",
        "nhs": (
            f"case when regexp_full_match({raw}, '[0-9]{{10}}') then {raw} "
            f"else {without_whitespace(raw, also='-')} end"
        ),
        "academic_year": (
            f"case when regexp_full_match({raw}, '[0-9]{{4}}/[0-9]{{2}}') "
            f"then {{'first': substr({raw}, 1, 4), 'second': substr({raw}, 6, 2)}} "
            f"else regexp_extract({raw}, '^([0-9]{{4}})\\s*[/-]\\s*([0-9]{{2}}|[0-9]{{4}})$', "
            "['first', 'second']) end"
        ),
    }.get(column.kind)


def _unknown(column: Column) -> str:
    return _in(f"upper(r_{column.name})", column.unknown)


def _number_issue(column: Column) -> str:
    raw, ready = f"r_{column.name}", f"p_{column.name}"
    whole = f"when {ready} <> floor({ready}) then 'not a whole number' " if column.kind == "int" else ""
    return (
        f"case when {raw} is null or {_unknown(column)} then null "
        f"when {ready} is null or isnan({ready}) or isinf({ready}) "
        f"then 'not a number' {whole}{_range_issue(ready, column)} end"
    )


def graded(column: Column) -> str | None:
    """An expression over `p_<column>` computed once per row (`g_<column>`) that both the
    value and the issue of the column read: computing it twice cost a quarter of the checks."""
    ready = f"p_{column.name}"
    if column.kind == "nhs":  # NULL: not ten digits; else whether the check digit holds
        return (
            f"case when regexp_full_match({ready}, '[0-9]{{10}}') "
            f"then coalesce({modulus11_sql(ready)}, false) end"
        )
    if column.kind == "code":  # 0: an explicit unknown, 1: a known code, NULL: neither
        return f"case when {_unknown(column)} then 0 when {_in(ready, column.codes)} then 1 end"
    if column.kind in ("int", "decimal"):  # the issue
        return _number_issue(column)
    return None


def value_and_issue(column: Column) -> tuple[str, str]:
    """(cleaned value, issue reason) SQL expressions for one column, over `p_<column>` and
    `g_<column>`."""
    raw = f"r_{column.name}"
    ready = f"p_{column.name}"
    grade = f"g_{column.name}"
    if column.kind in ("key", "text"):
        return raw, "cast(null as varchar)"
    if column.kind == "postcode":
        # The contract's normalised form: upper case, one space before the last three characters.
        value = (
            f"case when length({ready}) > 3 "
            f"then left({ready}, length({ready}) - 3) || ' ' || right({ready}, 3) "
            f"else nullif({ready}, '') end"
        )
        return value, "cast(null as varchar)"
    if column.kind == "code":
        return (
            f"case when {grade} = 1 then {ready} end",
            f"case when {raw} is null or {grade} is not null then null else 'unknown code' end",
        )
    if column.kind == "date":
        earliest = f"date {_quote(EARLIEST_DATE)}"
        return (
            f"case when {ready} <= $extract_date and {ready} >= {earliest} then {ready} end",
            f"case when {raw} is null then null "
            f"when {ready} is null then 'not a date (YYYY-MM-DD or DD/MM/YYYY)' "
            f"when {ready} > $extract_date then 'date after the extract date' "
            f"when {ready} < {earliest} then 'date before 1900' end",
        )
    if column.kind in ("int", "decimal"):
        sql_type = "integer" if column.kind == "int" else "double"
        value = f"case when {grade} is null and not {_unknown(column)} then cast({ready} as {sql_type}) end"
        return value, grade
    if column.kind == "nhs":
        placeholder = _in(ready, PLACEHOLDER_NHS_NUMBERS)
        return (
            f"case when {grade} and not {placeholder} then {ready} end",
            f"case when {raw} is null then null "
            f"when {grade} is null then 'NHS number is not 10 digits' "
            f"when not {grade} then 'NHS number fails the Modulus 11 check' "
            f"when {placeholder} then 'placeholder NHS number (one digit repeated)' end",
        )
    if column.kind == "academic_year":
        start = f"try_cast({ready}.first as integer)"
        end = f"try_cast({ready}.second as integer)"
        consistent = f"({end} = ({start} + 1) % 100 or {end} = {start} + 1)"
        value = (
            f"case when {consistent} then "
            f"cast({start} as varchar) || '/' || lpad(cast(({start} + 1) % 100 as varchar), 2, '0') "
            "end"
        )
        issue = (
            f"case when {raw} is null then null when not coalesce({consistent}, false) "
            f"then 'not an academic year (YYYY/YY)' end"
        )
        return value, issue
    raise ValueError(f"unknown column kind {column.kind!r}")


def _row_reason(feed: Feed, broken: tuple[str, ...]) -> str:
    """Why a row cannot be accepted, first reason first."""
    whens: list[str] = []
    if broken:  # only the columns where the reader found a line break can hold one
        multi_line = " or ".join(
            f"contains(coalesce(r_{name}, ''), chr(10)) or contains(coalesce(r_{name}, ''), chr(13))"
            for name in broken
        )
        whens.append(f"when {multi_line} then 'row runs over several lines (stray quote?)'")
    for column in feed.columns:
        if not column.required:
            continue
        whens.append(f"when r_{column.name} is null then 'missing {column.name}'")
        if column.kind not in ("key", "text"):  # a required value that is impossible
            whens.append(f"when i_{column.name} is not null then '{column.name}: ' || i_{column.name}")
    # a key twice in one file: which row is right cannot be known, so the first is kept and
    # the others are quarantined for the data manager to chase
    where = "in a reference file" if feed.reference else "in the file (its first row is kept)"
    whens.append(
        f"when row_number() over (partition by v_{feed.key} order by source_row) > 1 "
        f"then 'duplicate {feed.key} {where}'"
    )
    return "case " + " ".join(whens) + " end"


def checked_sql(feed: Feed, broken: tuple[str, ...] | None = None) -> str:
    """The checks of one file; `broken` names the columns in which some value holds a line
    break (a quote that ran on), None when it is not known (every column is searched)."""
    broken = feed.column_names if broken is None else broken
    # The reader hands the text over trimmed and blank as NULL (csvfile.trimmed).
    raw_columns = ",\n    ".join(f"{c.name} as r_{c.name}" for c in feed.columns)
    typed = []
    for column in feed.columns:
        value, issue = value_and_issue(column)
        typed.append(f"{value} as v_{column.name}")
        typed.append(f"{issue} as i_{column.name}")
    typed_sql = ",\n    ".join(typed)
    prepared_sql = "".join(
        f",\n    {prepared(c)} as p_{c.name}" for c in feed.columns if prepared(c) is not None
    )
    graded_sql = "".join(f",\n    {graded(c)} as g_{c.name}" for c in feed.columns if graded(c) is not None)
    # (date made unknown, the clash, why): the later date of a date_order pair is the one the
    # record is about (delivery, measurement), so the earlier becomes unknown when it comes
    # after it; a not_before date that comes before its reference date becomes unknown.
    clashes = [(earlier, f"v_{earlier} > v_{later}", f"after {later}") for earlier, later in feed.date_order]
    clashes += [(date, f"v_{date} < v_{other}", f"before {other}") for date, other in feed.not_before]
    ordered = []
    for date, clash, why in clashes:
        ordered.append(f"case when {clash} then null else v_{date} end as v_{date}")
        ordered.append(f"case when {clash} then '{why}' else i_{date} end as i_{date}")
    replaced = {date for date, _, _ in clashes}
    kept = [f"{prefix}{c.name}" for c in feed.columns for prefix in ("v_", "i_") if c.name not in replaced]
    final_columns = ",\n    ".join(["source_row"] + [f"r_{c.name}" for c in feed.columns] + kept + ordered)
    checked_columns = ", ".join(
        ["source_row"] + [f"{prefix}{c.name}" for c in feed.columns for prefix in ("v_", "i_")]
    )
    return f"""
with raw_text as (
  select
    source_row,
    {raw_columns}
  from incoming
),
prepared_values as (
  select
    *{prepared_sql}
  from raw_text
),
graded_values as (
  select
    *{graded_sql}
  from prepared_values
),
typed as (
  select
    source_row,
    {", ".join(f"r_{c.name}" for c in feed.columns)},
    {typed_sql}
  from graded_values
),
ordered as (
  select
    {final_columns}
  from typed
)
select {checked_columns}, {_row_reason(feed, broken)} as reason
from ordered
"""
