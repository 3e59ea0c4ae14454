"""The disclosure audit: what an attacker could work out about each hidden count.

The attacker sees every published row of pub_indicator_values and knows the rules: a shown
count is 0, or at least 8 and rounded to the nearest 5; a row exists only where its
denominator is at least 1; a hidden count is at least 1 (a numerator may be 0 where its
denominator is hidden too); and every count is a sum of whole quarters (academic years for
NCMP) in which

- the centres of a local authority add up to the local authority;
- the categories of each breakdown (mother's age, ethnic group, IMD quintile) add up to
  the area's 'all' row;
- a numerator is at most its denominator;
- related indicators are nested (INDICATOR_RELATIONS: term babies are among all babies,
  obese children among the overweight or obese, measured the same);
- a rolling year and a financial year are the sums of their four quarters, so consecutive
  rolling years and the financial years share quarters.

For each hidden count, the audit finds by linear programming (HiGHS) the least and the most
it can be given all of that: the interval the attacker is left with. Witnesses first: a
few programmes push every hidden count up towards PROTECTED_UP and down towards 1 at once,
and a count whose interval the witnesses already show wide enough needs nothing more. Every
other count gets its own two programmes, solved as integer programmes where the linear
optimum is not a whole-number point, so the bounds are exact.

The protection rule, for every hidden count whose true value is 1 to 7: the interval
reaches at least 8 (nobody can tell the count is small) and spans at least 8 whole values
(hi - lo >= 7, as wide as the band from 1 to 8), so it is never pinned to one value or to
a narrow range. docs/methods.md "Disclosure control" says why.

    python -m cc_warehouse.disclosure_audit [--database PATH]

reads pub_indicator_values (what is published) and fct_indicator_values (the true counts,
to know which hidden counts are small) from the warehouse, prints a summary and every
count left unprotected, and exits 1 when there is one. `make transform` runs it on the
build before publishing: a failing audit publishes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import highspy
import numpy as np
import pandas as pd
from scipy import sparse

from . import config

LARGEST_HIDDEN = 7  # macros/disclosure: counts 1 to 7 are never shown
ROUNDING_BASE = 5
PROTECTED_UP = LARGEST_HIDDEN + 1  # the interval must reach this
PROTECTED_WIDTH = LARGEST_HIDDEN  # and be at least this wide (hi - lo)

KEY = ["indicator_id", "area_type", "area_code", "period_type", "period_label", "breakdown"]
KINDS = ("numerator", "denominator")
BREAKDOWN_GROUPS = ("mother_age", "ethnic_group", "imd_quintile")

# (smaller, larger, same population): the smaller indicator's units are among the larger's,
# and where the population is the same the denominators are equal.
INDICATOR_RELATIONS = (
    ("low_birth_weight_term", "low_birth_weight_all", False),
    ("reception_obesity", "reception_overweight_obese", True),
)

PUBLISHED_COLUMNS = ", ".join(
    [*KEY, "la_code", "breakdown_group", "period_start", "period_end", "numerator", "denominator"]
)
INF = highspy.kHighsInf
TOLERANCE = 1e-6


class AuditError(Exception):
    """The published figures contradict the audit's model of them: it cannot vouch for them."""


@dataclass
class AuditResult:
    hidden: int  # hidden counts
    small_hidden: int  # of which 1 to 7: the ones the rule protects
    unprotected: pd.DataFrame  # KEY, kind, true_count, lower, upper
    seconds: float

    @property
    def passed(self) -> bool:
        return self.unprotected.empty

    def summary(self) -> str:
        verdict = "passed" if self.passed else f"FAILED: {len(self.unprotected)} unprotected"
        return (
            f"disclosure audit {verdict}: {self.hidden} hidden counts, {self.small_hidden} of them "
            f"1 to {LARGEST_HIDDEN}, each needing an interval reaching {PROTECTED_UP} and at least "
            f"{PROTECTED_WIDTH} wide ({self.seconds:.1f} s)"
        )


def read(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The published rows with the true counts beside them (true_numerator, true_denominator)."""
    keys = " and ".join(f"published.{c} = exact.{c}" for c in KEY)
    return con.execute(
        f"""select {", ".join(f"published.{c}" for c in PUBLISHED_COLUMNS.split(", "))},
                exact.numerator as true_numerator, exact.denominator as true_denominator
            from pub_indicator_values as published
            left join fct_indicator_values as exact on {keys}"""
    ).df()


def _units(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The unit each row counts: its span of dates, so that a financial year and the rolling
    year ending with its fourth quarter are one and the same count."""
    unit = pd.factorize(pd.MultiIndex.from_frame(rows[["period_start", "period_end"]]))[0]
    return unit, unit


def _cells(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per published count with the bounds the attacker knows for it."""
    base = ROUNDING_BASE // 2
    parts = []
    for kind in KINDS:
        shown = rows[kind].astype("float64").to_numpy()
        hidden = np.isnan(shown)
        lower = np.where(shown == 0, 0, np.maximum(shown - base, LARGEST_HIDDEN + 1))
        upper = np.where(shown == 0, 0, shown + base)
        hidden_floor = 1 if kind == "denominator" else 0  # a row exists: its denominator is not 0
        part = rows[["row", "indicator_id", "area_code", "breakdown", "first_unit", "last_unit"]].copy()
        part["kind"] = kind
        part["hidden"] = hidden
        part["lower"] = np.where(hidden, hidden_floor, lower).astype(float)
        part["upper"] = np.where(hidden, INF, upper).astype(float)
        part["true_count"] = rows[f"true_{kind}"].astype("float64").to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


class Model:
    """The attacker's linear programme for a set of related indicators."""

    def __init__(self, rows: pd.DataFrame) -> None:
        first, last = _units(rows)
        rows = rows.assign(first_unit=first, last_unit=last, row=np.arange(len(rows)))
        self.cells = _cells(rows)
        # the series: one per indicator, area, breakdown and kind, each with a count per unit
        series = (
            rows[["indicator_id", "area_type", "area_code", "la_code", "breakdown", "breakdown_group"]]
            .drop_duplicates(["indicator_id", "area_code", "breakdown"])
            .merge(pd.DataFrame({"kind": KINDS}), how="cross")
        )
        spans = rows[["indicator_id", "first_unit", "last_unit"]].drop_duplicates()
        lengths = (spans["last_unit"] - spans["first_unit"] + 1).to_numpy()
        units = pd.DataFrame(
            {
                "indicator_id": np.repeat(spans["indicator_id"].to_numpy(), lengths),
                "unit": np.repeat(spans["first_unit"].to_numpy(), lengths)
                + np.concatenate([np.arange(n) for n in lengths]),
            }
        ).drop_duplicates()
        variables = series.merge(units, on="indicator_id")
        variables["var"] = np.arange(len(variables))
        self.variables = variables
        self.upper = np.full(len(variables), INF)
        self._zero_where_no_row(rows)

        triplets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        bounds: list[tuple[np.ndarray, np.ndarray]] = []

        def add(row_ids: np.ndarray, cols, vals: np.ndarray, lo, hi) -> None:
            """Rows `lo <= sum(vals * x[cols]) <= hi`, numbered from 0 by row_ids."""
            offset = sum(len(b[0]) for b in bounds)
            triplets.append((np.asarray(row_ids) + offset, np.asarray(cols, dtype=np.int64), vals))
            count = int(np.max(row_ids)) + 1 if len(row_ids) else 0
            bounds.append(
                (np.broadcast_to(lo, count).astype(float), np.broadcast_to(hi, count).astype(float))
            )

        # each published count: the sum of its units within the bounds it shows
        members = self._cell_members(self.cells)
        add(
            members["cell"].to_numpy(),
            members["var"].to_numpy(),
            np.ones(len(members)),
            self.cells["lower"].to_numpy(),
            self.cells["upper"].to_numpy(),
        )
        unit_key = ["indicator_id", "kind", "unit"]
        # the centres of a local authority add up to it
        centres = variables[variables["area_type"] == "centre"]
        totals = variables[variables["area_type"] == "la"]
        self._add_sums(add, centres, totals, [*unit_key, "la_code", "breakdown"])
        # the categories of a breakdown add up to the area's 'all'
        categories = variables[variables["breakdown_group"].isin(BREAKDOWN_GROUPS)]
        alls = variables[variables["breakdown"] == "all"]
        for group in BREAKDOWN_GROUPS:
            members_of = categories[categories["breakdown_group"] == group]
            self._add_sums(add, members_of, alls, [*unit_key, "area_code"])
        # a numerator is at most its denominator, in every unit
        per_unit = variables.pivot(
            index=["indicator_id", "area_code", "breakdown", "unit"], columns="kind", values="var"
        )
        n = len(per_unit)
        add(
            np.tile(np.arange(n), 2),
            np.concatenate([per_unit["numerator"], per_unit["denominator"]]),
            np.repeat([1.0, -1.0], n),
            -INF,
            0,
        )
        # nested indicators: the smaller's counts are at most the larger's (equal denominators
        # where the population is the same), and outside the smaller, numerator <= denominator
        for smaller, larger, same_population in INDICATOR_RELATIONS:
            on = ["area_code", "breakdown", "unit"]
            small = variables[variables["indicator_id"] == smaller].pivot(
                index=on, columns="kind", values="var"
            )
            large = variables[variables["indicator_id"] == larger].pivot(
                index=on, columns="kind", values="var"
            )
            both = small.add_suffix("_a").join(large.add_suffix("_b"), how="inner")
            n = len(both)
            if not n:
                continue
            for kind in KINDS:
                equal = same_population and kind == "denominator"
                add(
                    np.tile(np.arange(n), 2),
                    np.concatenate([both[f"{kind}_a"], both[f"{kind}_b"]]),
                    np.repeat([1.0, -1.0], n),
                    0 if equal else -INF,
                    0,
                )
            if not same_population:
                cols = np.concatenate(
                    [both["numerator_b"], both["numerator_a"], both["denominator_b"], both["denominator_a"]]
                )
                add(np.tile(np.arange(n), 4), cols, np.repeat([1.0, -1.0, -1.0, 1.0], n), -INF, 0)

        # the counts the rule protects, each with a column t <= its count, capped where a
        # witness shows enough: maximising the sum of the t pushes them all up at once
        cells = self.cells
        self.targets = np.flatnonzero(cells["hidden"] & cells["true_count"].between(1, LARGEST_HIDDEN))
        self.n_vars = len(variables)
        aux = self.n_vars + np.arange(len(self.targets))
        position = np.full(len(cells), -1)
        position[self.targets] = np.arange(len(self.targets))
        in_target = members[position[members["cell"].to_numpy()] >= 0]
        rows_of = position[in_target["cell"].to_numpy()]
        add(
            np.concatenate([rows_of, np.arange(len(self.targets))]),
            np.concatenate([in_target["var"].to_numpy(), aux]),
            np.concatenate([-np.ones(len(in_target)), np.ones(len(self.targets))]),
            -INF,
            0,
        )
        self.upper = np.concatenate([self.upper, np.full(len(self.targets), PROTECTED_UP + PROTECTED_WIDTH)])

        self.row_lower = np.concatenate([b[0] for b in bounds])
        self.row_upper = np.concatenate([b[1] for b in bounds])
        matrix = sparse.csc_matrix(
            (
                np.concatenate([t[2] for t in triplets]),
                (np.concatenate([t[0] for t in triplets]), np.concatenate([t[1] for t in triplets])),
            ),
            shape=(len(self.row_lower), len(self.upper)),
        )
        # cells x variables: a solution's value of every published count
        self.sums = sparse.csr_matrix(
            (np.ones(len(members)), (members["cell"].to_numpy(), members["var"].to_numpy())),
            shape=(len(cells), len(self.upper)),
        )
        self.highs = self._solver(matrix)

    def _zero_where_no_row(self, rows: pd.DataFrame) -> None:
        """A series with no row in a period had no unit in it: each of its units there is 0."""
        periods = rows[
            ["indicator_id", "period_type", "period_label", "first_unit", "last_unit"]
        ].drop_duplicates()
        places = rows[["indicator_id", "area_code", "breakdown"]].drop_duplicates()
        grid = periods.merge(places, on="indicator_id")
        present = rows[["indicator_id", "period_type", "period_label", "area_code", "breakdown"]].assign(
            present=True
        )
        missing = grid.merge(present, how="left", on=list(present.columns[:-1]))
        missing = missing[missing["present"].isna()]
        if missing.empty:
            return
        lengths = (missing["last_unit"] - missing["first_unit"] + 1).to_numpy()
        zero = pd.DataFrame(
            {
                "indicator_id": np.repeat(missing["indicator_id"].to_numpy(), lengths),
                "area_code": np.repeat(missing["area_code"].to_numpy(), lengths),
                "breakdown": np.repeat(missing["breakdown"].to_numpy(), lengths),
                "unit": np.repeat(missing["first_unit"].to_numpy(), lengths)
                + np.concatenate([np.arange(n) for n in lengths]),
            }
        ).drop_duplicates()
        hit = self.variables.merge(zero, on=["indicator_id", "area_code", "breakdown", "unit"])
        self.upper[hit["var"].to_numpy()] = 0

    def _cell_members(self, cells: pd.DataFrame) -> pd.DataFrame:
        """(cell, var): the units each published count adds up over."""
        lengths = (cells["last_unit"] - cells["first_unit"] + 1).to_numpy()
        expanded = pd.DataFrame(
            {
                "cell": np.repeat(np.arange(len(cells)), lengths),
                "indicator_id": np.repeat(cells["indicator_id"].to_numpy(), lengths),
                "area_code": np.repeat(cells["area_code"].to_numpy(), lengths),
                "breakdown": np.repeat(cells["breakdown"].to_numpy(), lengths),
                "kind": np.repeat(cells["kind"].to_numpy(), lengths),
                "unit": np.repeat(cells["first_unit"].to_numpy(), lengths)
                + np.concatenate([np.arange(n) for n in lengths]),
            }
        )
        merged = expanded.merge(
            self.variables[["indicator_id", "area_code", "breakdown", "kind", "unit", "var"]],
            on=["indicator_id", "area_code", "breakdown", "kind", "unit"],
        )
        return merged[["cell", "var"]].sort_values(["cell", "var"], ignore_index=True)

    @staticmethod
    def _add_sums(add, members: pd.DataFrame, totals: pd.DataFrame, key: list[str]) -> None:
        """Rows: sum(members) - total = 0 for each total."""
        joined = members.merge(totals[[*key, "var"]], on=key, suffixes=("", "_total"))
        if joined.empty:
            return
        group = pd.factorize(joined["var_total"])[0]
        row_ids = np.concatenate([group, np.unique(group)])
        first_of = pd.Series(joined["var_total"].to_numpy()).groupby(group).first().to_numpy()
        cols = np.concatenate([joined["var"].to_numpy(), first_of])
        vals = np.concatenate([np.ones(len(joined)), -np.ones(len(first_of))])
        add(row_ids, cols, vals, 0, 0)

    def _solver(self, matrix: sparse.csc_matrix) -> highspy.Highs:
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        lp = highspy.HighsLp()
        lp.num_col_ = matrix.shape[1]
        lp.num_row_ = matrix.shape[0]
        lp.col_cost_ = np.zeros(matrix.shape[1])
        lp.col_lower_ = np.zeros(matrix.shape[1])
        lp.col_upper_ = self.upper
        lp.row_lower_ = self.row_lower
        lp.row_upper_ = self.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        highs.passModel(lp)
        return highs

    # ------------------------------------------------------------------ solving

    def _solve(self, columns: np.ndarray, costs: np.ndarray, integer: bool = False) -> np.ndarray | None:
        """A solution minimising sum(costs * x[columns]), or None where it is not a whole-number
        point (bounds read from it would hold for fractions, not for counts)."""
        highs = self.highs
        n = len(self.upper)
        highs.changeColsCost(n, np.arange(n, dtype=np.int32), np.zeros(n))
        highs.changeColsCost(len(columns), columns.astype(np.int32), costs.astype(float))
        if integer:
            kinds = np.full(self.n_vars, highspy.HighsVarType.kInteger)
            highs.changeColsIntegrality(self.n_vars, np.arange(self.n_vars, dtype=np.int32), kinds)
        highs.run()
        status = highs.getModelStatus()
        solution = (
            np.array(highs.getSolution().col_value) if status == highspy.HighsModelStatus.kOptimal else None
        )
        if integer:
            kinds = np.full(self.n_vars, highspy.HighsVarType.kContinuous)
            highs.changeColsIntegrality(self.n_vars, np.arange(self.n_vars, dtype=np.int32), kinds)
        if status == highspy.HighsModelStatus.kInfeasible:
            raise AuditError(
                "the published figures are inconsistent with their relations: no table fits them"
            )
        if status == highspy.HighsModelStatus.kUnbounded:
            return None
        if solution is None:
            raise AuditError(f"the solver stopped: {highs.modelStatusToString(status)}")
        values = solution[: self.n_vars]
        if np.abs(values - np.round(values)).max(initial=0) > TOLERANCE:
            return None if not integer else np.round(solution)
        return np.round(solution)

    def _values(self, solution: np.ndarray) -> np.ndarray:
        return self.sums[self.targets] @ solution

    def _cell_columns(self, cell: int) -> np.ndarray:
        row = self.sums[cell]
        return row.indices[row.indices < self.n_vars]

    def _extreme(self, cell: int, direction: float) -> float:
        """The least (direction 1) or most (-1) the cell can be, as a whole number."""
        columns = self._cell_columns(cell)
        costs = np.full(len(columns), direction)
        solution = self._solve(columns, costs)
        if solution is None:
            solution = self._solve(columns, costs, integer=True)
        if solution is None:
            return INF if direction < 0 else 0.0  # unbounded above
        return float((self.sums[cell] @ solution)[0])

    def audit(self) -> pd.DataFrame:
        """The target counts whose interval breaks the rule, with the interval."""
        self._solve(np.zeros(0, dtype=np.int64), np.zeros(0))  # raises where nothing fits
        floor = self.cells["lower"].to_numpy()[self.targets]
        low = self.cells["true_count"].to_numpy()[self.targets].astype(float)  # the truth is feasible
        high = low.copy()
        open_low = low > floor
        while open_low.any():  # push every count down at once
            columns = np.concatenate([self._cell_columns(c) for c in self.targets[open_low]])
            solution = self._solve(columns, np.ones(len(columns)))
            if solution is None:
                break
            values = self._values(solution)
            improved = values < low
            low = np.minimum(low, values)
            open_low = low > floor
            if not improved.any():
                break
        aux = self.n_vars + np.arange(len(self.targets))

        def protected() -> np.ndarray:
            return (high >= PROTECTED_UP) & (high - low >= PROTECTED_WIDTH)

        while not protected().all():  # and up, each towards PROTECTED_UP + PROTECTED_WIDTH
            columns = aux[~protected()]
            solution = self._solve(columns, -np.ones(len(columns)))
            if solution is None:
                break
            values = self._values(solution)
            if not (values > high).any():
                break
            high = np.maximum(high, values)
        failing = []
        for position in np.flatnonzero(~protected()):
            cell = int(self.targets[position])
            low[position] = self._extreme(cell, 1.0)
            high[position] = self._extreme(cell, -1.0)
            if not protected()[position]:
                failing.append(position)
        result = self.cells.iloc[self.targets[failing]][["row", "kind", "true_count"]].copy()
        result["lower"] = low[failing]
        result["upper"] = high[failing]
        return result


def audit(con: duckdb.DuckDBPyConnection) -> AuditResult:
    """Audit pub_indicator_values against fct_indicator_values in the database `con`."""
    started = time.perf_counter()
    rows = read(con)
    unit = _units(rows)[0]
    found = []
    hidden = small = 0
    for indicators in _components(rows["indicator_id"]):
        related = rows["indicator_id"].isin(indicators).to_numpy()
        # no relation crosses periods that are not the same span, so each is a programme of its own
        for span in np.unique(unit[related]):
            part = rows[related & (unit == span)].reset_index(drop=True)
            model = Model(part)
            hidden += int(model.cells["hidden"].sum())
            small += len(model.targets)
            failing = model.audit()
            if not failing.empty:
                keys = part.iloc[failing["row"].to_numpy()][KEY].reset_index(drop=True)
                found.append(pd.concat([keys, failing.drop(columns="row").reset_index(drop=True)], axis=1))
    unprotected = (
        pd.concat(found, ignore_index=True)
        if found
        else pd.DataFrame(columns=[*KEY, "kind", "true_count", "lower", "upper"])
    )
    return AuditResult(hidden, small, unprotected, time.perf_counter() - started)


def _components(indicators: pd.Series) -> list[set[str]]:
    """The indicators audited together: each alone, or with those it is related to."""
    groups: list[set[str]] = [{i} for i in sorted(indicators.unique())]
    for smaller, larger, _ in INDICATOR_RELATIONS:
        joined = [g for g in groups if smaller in g or larger in g]
        groups = [g for g in groups if g not in joined] + [set().union(*joined)] if joined else groups
    return groups


def report(result: AuditResult, limit: int = 50) -> str:
    lines = [result.summary()]
    if not result.passed:
        shown = result.unprotected.head(limit)
        for row in shown.itertuples(index=False):
            upper = "no limit" if row.upper == INF else f"{row.upper:.0f}"
            lines.append(
                f"  {row.indicator_id} {row.area_code} {row.period_label} {row.breakdown} {row.kind}: "
                f"could only be {row.lower:.0f} to {upper}"
            )
        if len(result.unprotected) > limit:
            lines.append(f"  ... and {len(result.unprotected) - limit} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, help="default: the published copy of the warehouse")
    args = parser.parse_args(argv)
    settings = config.settings()
    database = args.database or settings.published_dir / "childrens_centres.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        result = audit(con)
    print(report(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
