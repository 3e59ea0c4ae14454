"""The disclosure audit: what an attacker could work out about each hidden count.

The attacker's model (disclosure_model) makes one linear programme per span of dates and
local authority, of a set of related indicators; the audit solves every programme and says,
for each hidden count of 1 to 7, the interval the attacker is left with.

Where a count is left unprotected, the audit names shown counts to hide (Model.to_hide). `make
transform` runs `protect` after every build: it adds them to raw.audit_suppressions, which
pub_indicator_values hides like small counts, builds the public marts again and audits
again, until the audit passes; if it still fails after CC_AUDIT_ROUNDS rounds, nothing is
published. Each programme that passes is remembered with a fingerprint of its published and
true counts (PASSED_TABLE), and a later round or build audits only the programmes whose
fingerprint is not one that passed: after a quarter is loaded, the periods it changed.

    cc audit [--database PATH]

reads pub_indicator_values (what is published) and fct_indicator_values (the true counts,
only to know which hidden counts are 1 to 7) from the published copy, prints a summary and
every count left unprotected, and exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from cc_warehouse import config
from cc_warehouse.build import disclosure_model
from cc_warehouse.build.disclosure_model import (
    INDICATOR_RELATIONS,
    INF,
    KEY,
    KINDS,
    LARGEST_HIDDEN,
    PROTECTED_UP,
    PROTECTED_WIDTH,
    AuditError,
    Model,
)

# one programme each: the related indicators (joined by ","), the span of dates, the authority
PART_KEY = ["indicators", "period_start", "period_end", "la_code"]
PUBLISHED_COLUMNS = [*KEY, "la_code", "breakdown_group", "period_start", "period_end", *KINDS]
# what is published, each row beside its true counts (to know which hidden counts are 1 to 7)
PUBLISHED_WITH_TRUTH = f"""pub_indicator_values as published
    left join fct_indicator_values as exact on {" and ".join(f"published.{c} = exact.{c}" for c in KEY)}"""
# The counts the audit has hidden beyond the model's rules (raw.audit_suppressions, read by
# stg_disclosure__audit_suppressions): each count hidden in every row that publishes it.
SUPPRESSIONS_TABLE = "raw.audit_suppressions"
SUPPRESSION_COLUMNS = [
    "indicator_id",
    "area_code",
    "breakdown",
    "count_kind",
    "period_start",
    "period_end",
    "protects",
]
# What is built again after the audit hid more counts: the public marts and what reads them,
# and their data tests (the unit tests read no data, and passed in the build before).
PUBLIC_MARTS = "pub_indicator_values+"
REBUILD = ["build", "--select", PUBLIC_MARTS, "--exclude-resource-type", "unit_test"]
SUPPRESSIONS_DDL = f"""create table if not exists {SUPPRESSIONS_TABLE} (
    indicator_id varchar, area_code varchar, breakdown varchar, count_kind varchar,
    period_start date, period_end date, protects varchar, added_at timestamp)"""
# The programmes that passed (PART_KEY), each with the fingerprint of its published and true
# counts and its hidden counts: one whose fingerprint is unchanged is not audited again. Kept
# beside SUPPRESSIONS_TABLE, for this version of the audit only.
PASSED_TABLE = "disclosure_audit.passed_programmes"
PASSED_DDL = [
    "create schema if not exists disclosure_audit",
    f"""create table if not exists {PASSED_TABLE} (
        indicators varchar, period_start date, period_end date, la_code varchar,
        fingerprint ubigint, hidden bigint, small_hidden bigint, audit_version varchar)""",
]
# the audit's code: where it changes, every programme is audited again
AUDIT_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + Path(disclosure_model.__file__).read_bytes()
).hexdigest()[:16]
BATCH = 2000  # programmes read at once: a tenth of England's, about 600,000 rows


@dataclass
class AuditResult:
    hidden: int  # hidden counts
    small_hidden: int  # of which 1 to 7: the ones the rule protects
    unprotected: pd.DataFrame  # KEY, kind, true_count, lower, upper
    seconds: float
    # shown counts whose hiding would widen the unprotected ones' intervals (SUPPRESSION_COLUMNS)
    to_hide: pd.DataFrame | None = None
    # each programme audited (PART_KEY) with its hidden counts and those of them 1 to 7
    parts: dict[tuple, tuple[int, int]] | None = None
    failing_parts: set[tuple] | None = None
    programmes: int | None = None  # in all, where only some were audited (protect)

    @property
    def passed(self) -> bool:
        return self.unprotected.empty

    def summary(self) -> str:
        verdict = "passed" if self.passed else f"FAILED: {len(self.unprotected)} unprotected"
        audited = len(self.parts or {})
        if self.programmes is not None:
            audited = f"{audited} of {self.programmes}; the others as they passed before"
        return (
            f"disclosure audit {verdict}: {self.hidden} hidden counts, {self.small_hidden} of them "
            f"1 to {LARGEST_HIDDEN}, each needing an interval reaching {PROTECTED_UP} and at least "
            f"{PROTECTED_WIDTH} wide; programmes audited: {audited} ({self.seconds:.1f} s)"
        )


def read(con: duckdb.DuckDBPyConnection, programmes: set[tuple]) -> pd.DataFrame:
    """The published rows of `programmes` (PART_KEY) with the true counts beside them
    (true_numerator, true_denominator), in the order of their keys, so that the same figures
    always make the same programmes and the same choices of what to hide."""
    wanted = pd.DataFrame(
        [(indicator, *key[1:]) for key in programmes for indicator in key[0].split(",")],
        columns=["indicator_id", *PART_KEY[1:]],
    )
    con.register("audit_wanted", wanted)
    return con.execute(
        f"""select {", ".join(f"published.{c}" for c in PUBLISHED_COLUMNS)},
                exact.numerator as true_numerator, exact.denominator as true_denominator
            from {PUBLISHED_WITH_TRUTH}
            semi join audit_wanted as wanted
                on {" and ".join(f"published.{c} = wanted.{c}" for c in wanted.columns)}
            order by {", ".join(f"published.{c}" for c in KEY)}"""
    ).df()


def _indicators(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each published indicator, and the programmes' name for the indicators audited with it."""
    found = pd.Series(
        [i for (i,) in con.execute("select distinct indicator_id from pub_indicator_values").fetchall()]
    )
    return {i: ",".join(sorted(group)) for group in _components(found) for i in group}


def fingerprints(con: duckdb.DuckDBPyConnection) -> dict[tuple, int]:
    """Each programme (PART_KEY) and a hash of every published and true count in it: the
    hashes of its rows, each with its key, combined by exclusive or, which streams."""
    indicators = _indicators(con)
    con.register("audit_components", pd.DataFrame(indicators.items(), columns=["indicator_id", "indicators"]))
    counts = ", ".join(
        [
            *(f"published.{c}" for c in (*KEY, "breakdown_group", *KINDS)),
            "exact.numerator",
            "exact.denominator",
        ]
    )
    rows = con.execute(
        f"""select components.indicators, published.period_start, published.period_end,
                published.la_code,
                bit_xor(hash(row({counts})))
            from {PUBLISHED_WITH_TRUTH}
            join audit_components as components on components.indicator_id = published.indicator_id
            group by all"""
    ).fetchall()
    return {tuple(row[:4]): row[4] for row in rows}


def audit(con: duckdb.DuckDBPyConnection, workers: int = 2, only: set[tuple] | None = None) -> AuditResult:
    """Audit pub_indicator_values against fct_indicator_values in the database `con`, one
    linear programme per span of dates and local authority (PART_KEY), on `workers`
    processes; `only` those programmes, if given. The programmes are read BATCH at a time,
    a local authority's together, so memory does not grow with the country."""
    started = time.perf_counter()
    ordered = sorted(_programmes(con) if only is None else only, key=lambda key: (key[3], *key[1:3], key[0]))
    keys: list[tuple] = []
    results: list[tuple] = []
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1 and len(ordered) > workers:
            context = multiprocessing.get_context("fork")  # before the first batch is read
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(workers, mp_context=context))
        for start in range(0, len(ordered), BATCH):
            batch_keys, parts = _parts(read(con, set(ordered[start : start + BATCH])))
            keys += batch_keys
            if pool is None:
                results += [_audit_part(part) for part in parts]
            else:
                results += pool.map(_audit_part, parts, chunksize=max(1, len(parts) // (8 * workers)))
    found = [r[2] for r in results if r[2] is not None]
    hide = [r[3] for r in results if r[3] is not None]
    columns = [*KEY, "kind", "true_count", "lower", "upper"]
    unprotected = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)
    to_hide = pd.concat(hide, ignore_index=True) if hide else pd.DataFrame(columns=SUPPRESSION_COLUMNS)
    return AuditResult(
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        unprotected,
        time.perf_counter() - started,
        to_hide,
        parts={key: r[:2] for key, r in zip(keys, results, strict=True)},
        failing_parts={key for key, r in zip(keys, results, strict=True) if r[2] is not None},
    )


def _programmes(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    """Every programme (PART_KEY) of pub_indicator_values."""
    indicators = _indicators(con)
    found = con.execute(
        "select distinct indicator_id, period_start, period_end, la_code from pub_indicator_values"
    ).fetchall()
    return {(indicators[indicator], *rest) for indicator, *rest in found}


def _parts(rows: pd.DataFrame) -> tuple[list[tuple], list[pd.DataFrame]]:
    """The programmes in `rows` (read's): their keys (PART_KEY) and their rows."""
    # every relation holds within one span of dates and one local authority
    span = pd.factorize(pd.MultiIndex.from_frame(rows[PART_KEY[1:]]))[0]
    keys, parts = [], []
    for indicators in _components(rows["indicator_id"]):
        related = rows["indicator_id"].isin(indicators).to_numpy()
        for one in np.unique(span[related]):
            part = rows[related & (span == one)].reset_index(drop=True)
            first = part.iloc[0]
            keys.append(
                (
                    ",".join(sorted(indicators)),
                    first["period_start"].date(),
                    first["period_end"].date(),
                    first["la_code"],
                )
            )
            parts.append(part)
    return keys, parts


def _audit_part(part: pd.DataFrame) -> tuple[int, int, pd.DataFrame | None, pd.DataFrame | None]:
    """One programme: (hidden counts, of which 1 to 7, the unprotected ones, what to hide)."""
    model = Model(part)
    hidden = model.cells.loc[model.cells["hidden"], "var"].nunique()
    failing = model.audit()
    if failing.empty:
        return hidden, len(model.targets), None, None
    cells = model.cells[model.cells["hidden"]].drop(columns=["lower", "upper"]).merge(failing, on="var")
    unprotected = (
        part.iloc[cells["row"].to_numpy()][KEY]
        .reset_index(drop=True)
        .join(cells[["kind", "true_count", "lower", "upper"]].reset_index(drop=True))
    )
    return hidden, len(model.targets), unprotected, _hide_rows(model, part, failing["var"].to_numpy())


def _hide_rows(model: Model, part: pd.DataFrame, failing: np.ndarray) -> pd.DataFrame:
    """The counts model.to_hide chooses, one row each (SUPPRESSION_COLUMNS)."""
    pairs = model.to_hide(failing)
    variables = model.variables.set_index("var")
    hide = variables.loc[[c for c, _ in pairs], ["indicator_id", "area_code", "breakdown", "kind"]]
    protected = variables.loc[[p for _, p in pairs]]
    return (
        hide.rename(columns={"kind": "count_kind"})
        .reset_index(drop=True)
        .assign(
            period_start=part["period_start"].iloc[0],
            period_end=part["period_end"].iloc[0],
            protects=(
                protected["indicator_id"]
                + " "
                + protected["area_code"]
                + " "
                + protected["breakdown"]
                + " "
                + protected["kind"]
            ).to_numpy(),
        )[SUPPRESSION_COLUMNS]
    )


def _connect(database: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The project's DuckDB settings (config.duckdb_config), with room beside DuckDB for the
    published rows in pandas, and no progress bar in the transform's output."""
    con = duckdb.connect(str(database), read_only=read_only, config=config.duckdb_config(memory_limit="3GB"))
    con.execute("set enable_progress_bar = false")
    return con


def ensure_table(database: Path) -> None:
    """SUPPRESSIONS_TABLE, in a warehouse loaded before the audit wrote it."""
    with _connect(database) as con:
        con.execute(SUPPRESSIONS_DDL)


def has_public_marts(database: Path) -> bool:
    with _connect(database, read_only=True) as con:
        query = "select count(*) from information_schema.tables where table_name = 'pub_indicator_values'"
        return bool(con.execute(query).fetchone()[0])


def protect(
    audit_database: Path,
    suppressions_database: Path,
    rebuild: Callable[[], None],
    rounds: int,
) -> AuditResult | None:
    """Audit the public marts of `audit_database`; while a count is unprotected, hide the
    counts AuditResult.to_hide names (added to SUPPRESSIONS_TABLE in `suppressions_database`,
    where pub_indicator_values reads them) and `rebuild` the public marts, at most `rounds`
    times. Raises AuditError, naming the counts, if they are still unprotected then. None
    where there are no public marts (a build that selected part of the project).

    Every round audits only the programmes not known to pass as they are now: those whose
    fingerprint is not in PASSED_TABLE (in `suppressions_database`) or among those that
    passed in an earlier round. When the audit passes, PASSED_TABLE holds every programme."""
    if not has_public_marts(audit_database):
        return None
    passed = read_passed(suppressions_database)  # programme: (fingerprint, hidden, small hidden)
    audited: dict[tuple, tuple[int, int]] = {}
    started = time.perf_counter()
    for attempt in range(rounds + 1):
        with _connect(audit_database, read_only=True) as con:
            current = fingerprints(con)
            result = audit(
                con, only={key for key, found in current.items() if passed.get(key, (None,))[0] != found}
            )
        for key, counts in result.parts.items():
            if key not in result.failing_parts:
                passed[key] = (current[key], *counts)
        counted = [result.parts[key] if key in result.parts else passed[key][1:] for key in current]
        result.hidden = sum(hidden for hidden, _ in counted)
        result.small_hidden = sum(small for _, small in counted)
        result.parts = audited = {**audited, **result.parts}  # in every round
        result.programmes = len(current)
        result.seconds = time.perf_counter() - started
        if result.passed:
            write_passed(suppressions_database, {key: passed[key] for key in current})
            return result
        if attempt == rounds or result.to_hide.empty:
            raise AuditError(report(result))
        with _connect(suppressions_database) as con:
            con.execute(SUPPRESSIONS_DDL)
            con.register("to_hide", result.to_hide)
            con.execute(
                f"""insert into {SUPPRESSIONS_TABLE}
                select indicator_id, area_code, breakdown, count_kind, cast(period_start as date),
                    cast(period_end as date), protects, current_timestamp
                from to_hide"""
            )
        print(
            f"disclosure audit: {len(result.unprotected)} hidden counts could be narrowed down; "
            f"hiding {len(result.to_hide)} more and building the public marts again",
            flush=True,
        )
        rebuild()
    raise AssertionError("unreachable")


def read_passed(database: Path) -> dict[tuple, tuple[int, int, int]]:
    """PASSED_TABLE of this version of the audit: programme: (fingerprint, hidden, small)."""
    with _connect(database, read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            PASSED_TABLE.split("."),
        ).fetchone()[0]
        if not exists:
            return {}
        rows = con.execute(
            f"""select indicators, period_start, period_end, la_code, fingerprint, hidden, small_hidden
            from {PASSED_TABLE} where audit_version = ?""",
            [AUDIT_VERSION],
        ).fetchall()
    return {tuple(row[:4]): tuple(row[4:]) for row in rows}


def write_passed(database: Path, passed: dict[tuple, tuple[int, int, int]]) -> None:
    """PASSED_TABLE: `passed` and nothing else."""
    frame = pd.DataFrame(
        [(*key, *found) for key, found in passed.items()],
        columns=[*PART_KEY, "fingerprint", "hidden", "small_hidden"],
    ).astype({"fingerprint": "uint64"})
    with _connect(database) as con:
        for statement in PASSED_DDL:
            con.execute(statement)
        con.register("passed", frame)
        con.execute(f"delete from {PASSED_TABLE}")
        con.execute(
            f"""insert into {PASSED_TABLE}
            select indicators, cast(period_start as date), cast(period_end as date), la_code,
                fingerprint, hidden, small_hidden, ? from passed""",
            [AUDIT_VERSION],
        )


def _components(indicators: pd.Series) -> list[set[str]]:
    """The indicators audited together: each alone, or with those it is related to."""
    groups: list[set[str]] = [{i} for i in sorted(indicators.unique())]
    for smaller, larger, _ in INDICATOR_RELATIONS:
        joined = [g for g in groups if smaller in g or larger in g]
        groups = [g for g in groups if g not in joined] + [set().union(*joined)]
    return [g for g in groups if g]


def report(result: AuditResult, limit: int = 50) -> str:
    lines = [result.summary()]
    for row in result.unprotected.head(limit).itertuples(index=False):
        upper = "no limit" if row.upper == INF else f"{row.upper:.0f}"
        lines.append(
            f"  {row.indicator_id} {row.area_code} {row.period_label} {row.breakdown} {row.kind}: "
            f"could only be {row.lower + 0:.0f} to {upper}"
        )
    if len(result.unprotected) > limit:
        lines.append(f"  ... and {len(result.unprotected) - limit} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, help="default: the published copy of the warehouse")
    args = parser.parse_args(argv)
    database = args.database or config.settings().published_dir / "childrens_centres.duckdb"
    with _connect(database, read_only=True) as con:
        result = audit(con)
    print(report(result))
    return 0 if result.passed else 1
