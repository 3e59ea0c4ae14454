"""The attacker's model of the published figures (used by disclosure_audit).

The attacker sees every published row of pub_indicator_values and knows the rules and the
definitions:

- a shown count is 0, or at least 8 and within 2 of what is shown (rounded to 5);
- a row exists only where its denominator is at least 1, so a missing row counts 0;
- the centres of a local authority add up to the local authority;
- the categories of each breakdown (mother's age, ethnic group, IMD quintile) add up to
  the area's 'all' row;
- a numerator is at most its denominator;
- related indicators are nested (INDICATOR_RELATIONS: term babies are among all babies,
  obese children among the overweight or obese children, the same children measured);
- a financial year and the rolling year ending with its fourth quarter are one count.

Every relation holds within one span of dates and one local authority, so each span and
local authority (of a set of related indicators) is a linear programme of its own, with one
variable per count. For each hidden count, the audit finds with HiGHS the least and the most
it can be given all of the above: the interval the attacker is left with. Witnesses first:
two or three programmes push every hidden count down, then up, at once, and a count whose
interval they already show wide enough needs nothing more. Every other count gets its own
two programmes, solved as integer programmes where the linear optimum is not a whole-number
point, so the bounds are exact.

The protection rule (docs/methods.md), for every hidden count whose true value is 1 to 7:
its interval reaches at least 8 (nobody can tell the count is small) and is at least 7
wide (eight values or more stay possible), so it is never pinned to one value or to a
narrow range.

Where a count is left unprotected, Model.to_hide names shown counts to hide: the smallest
shown count within two relations of it, then three, whose hiding protects it, tried in the
programme; where none does alone, several together.
"""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd
from scipy import sparse

LARGEST_HIDDEN = 7  # macros/disclosure: counts 1 to 7 are never shown
ROUNDING_BASE = 5
PROTECTED_UP = LARGEST_HIDDEN + 1  # the interval must reach this
PROTECTED_WIDTH = LARGEST_HIDDEN  # and be at least this wide (hi - lo)

KEY = ["indicator_id", "area_type", "area_code", "period_type", "period_label", "breakdown"]
KINDS = ("numerator", "denominator")
BREAKDOWN_GROUPS = ("mother_age", "ethnic_group", "imd_quintile")
# (smaller, larger, same population): the smaller indicator's units are among the larger's;
# where the population is the same, the denominators are equal.
INDICATOR_RELATIONS = (
    ("low_birth_weight_term", "low_birth_weight_all", False),
    ("reception_obesity", "reception_overweight_obese", True),
)
SERIES = ["indicator_id", "area_code", "breakdown"]
INF = highspy.kHighsInf
TOLERANCE = 1e-6
CANDIDATES_TRIED = 12  # shown counts tried, smallest first, for each unprotected count


class AuditError(Exception):
    """The published figures contradict the audit's model of them: it cannot vouch for them."""


def _cells(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per published count (row, kind) with the bounds the attacker knows for it."""
    half = ROUNDING_BASE // 2
    parts = []
    for kind in KINDS:
        shown = rows[kind].astype("float64").to_numpy()
        hidden = np.isnan(shown)
        lower = np.where(shown == 0, 0, np.maximum(shown - half, LARGEST_HIDDEN + 1))
        upper = np.where(shown == 0, 0, shown + half)
        hidden_floor = 1 if kind == "denominator" else 0  # a row exists: its denominator is not 0
        part = rows[["row", *SERIES]].assign(kind=kind, hidden=hidden)
        part["lower"] = np.where(hidden, hidden_floor, lower)
        part["upper"] = np.where(hidden, INF, upper)
        part["true_count"] = rows[f"true_{kind}"].astype("float64").to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


class Model:
    """The attacker's linear programme for one span of dates of a set of related indicators:
    a variable per count (a financial year and its rolling year share one), then a column
    per protected count for the witnesses."""

    def __init__(self, rows: pd.DataFrame) -> None:
        rows = rows.assign(row=np.arange(len(rows)))
        variables = (
            rows[[*SERIES, "area_type", "la_code", "breakdown_group"]]
            .drop_duplicates(SERIES)
            .merge(pd.DataFrame({"kind": KINDS}), how="cross")
        )
        variables["var"] = np.arange(len(variables))
        cells = _cells(rows).merge(variables[[*SERIES, "kind", "var"]], on=[*SERIES, "kind"])
        # a count published twice is within both rows' bounds
        lower = cells.groupby("var")["lower"].max().reindex(variables["var"]).to_numpy()
        upper = cells.groupby("var")["upper"].min().reindex(variables["var"]).to_numpy()
        if (lower > upper).any():
            raise AuditError("a count is published twice with different figures")
        protected = cells[cells["hidden"] & cells["true_count"].between(1, LARGEST_HIDDEN)]
        self.targets = np.unique(protected["var"].to_numpy())
        self.cells = cells
        self.n_vars = len(variables)

        triplets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        row_bounds: list[tuple[np.ndarray, np.ndarray]] = []

        def add(row_ids: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: float, hi: float) -> None:
            """Rows `lo <= sum(vals * x[cols]) <= hi`, numbered from 0 by row_ids."""
            if not len(row_ids):
                return
            offset = sum(len(b[0]) for b in row_bounds)
            triplets.append((row_ids + offset, np.asarray(cols, dtype=np.int64), vals))
            count = int(row_ids.max()) + 1
            row_bounds.append((np.full(count, lo), np.full(count, hi)))

        def add_sums(members: pd.DataFrame, totals: pd.DataFrame, key: list[str]) -> None:
            """sum(members) - total = 0 for each total."""
            joined = members.merge(totals[[*key, "var"]], on=key, suffixes=("", "_total"))
            group, total = pd.factorize(joined["var_total"])
            add(
                np.concatenate([group, np.arange(len(total))]),
                np.concatenate([joined["var"].to_numpy(), total]),
                np.concatenate([np.ones(len(joined)), -np.ones(len(total))]),
                0,
                0,
            )

        def add_at_most(smaller: np.ndarray, larger: np.ndarray, equal: bool = False) -> None:
            """x[smaller] <= x[larger] (or =), pair by pair."""
            n = len(smaller)
            add(
                np.tile(np.arange(n), 2),
                np.concatenate([smaller, larger]),
                np.repeat([1.0, -1.0], n),
                0 if equal else -INF,
                0,
            )

        add_sums(
            variables[variables["area_type"] == "centre"],
            variables[variables["area_type"] == "la"],
            ["indicator_id", "kind", "la_code", "breakdown"],
        )
        alls = variables[variables["breakdown"] == "all"]
        for group in BREAKDOWN_GROUPS:
            add_sums(
                variables[variables["breakdown_group"] == group], alls, ["indicator_id", "kind", "area_code"]
            )
        pairs = variables.pivot(index=SERIES, columns="kind", values="var")
        add_at_most(pairs["numerator"].to_numpy(), pairs["denominator"].to_numpy())
        for smaller, larger, same_population in INDICATOR_RELATIONS:
            if not {smaller, larger} <= set(rows["indicator_id"]):
                continue
            both = pairs.loc[smaller].add_suffix("_a").join(pairs.loc[larger].add_suffix("_b"), how="inner")
            add_at_most(both["numerator_a"].to_numpy(), both["numerator_b"].to_numpy())
            add_at_most(both["denominator_a"].to_numpy(), both["denominator_b"].to_numpy(), same_population)
            if same_population:
                continue
            # in the larger's population outside the smaller's, numerator <= denominator too
            n = len(both)
            columns = ["numerator_b", "numerator_a", "denominator_b", "denominator_a"]
            add(
                np.tile(np.arange(n), 4),
                np.concatenate([both[c].to_numpy() for c in columns]),
                np.repeat([1.0, -1.0, -1.0, 1.0], n),
                -INF,
                0,
            )
        n_relations = sum(len(b[0]) for b in row_bounds)
        # the witnesses' columns: t <= its count, t at most PROTECTED_UP + PROTECTED_WIDTH, so
        # that maximising the sum of the t pushes every protected count up at once
        aux = self.n_vars + np.arange(len(self.targets))
        add(
            np.tile(np.arange(len(aux)), 2),
            np.concatenate([aux, self.targets]),
            np.repeat([1.0, -1.0], len(aux)),
            -INF,
            0,
        )
        self.aux = aux

        n_columns = self.n_vars + len(aux)
        matrix = sparse.csc_matrix(
            (
                np.concatenate([t[2] for t in triplets]),
                (np.concatenate([t[0] for t in triplets]), np.concatenate([t[1] for t in triplets])),
            ),
            shape=(sum(len(b[0]) for b in row_bounds), n_columns),
        )
        # which counts each relation binds together: where to look for a count to hide
        self.relations = matrix[:n_relations, : self.n_vars].tocsc()
        self.variables = variables
        self.lower, self.upper = lower, upper
        self.shown = np.isfinite(upper) & (lower > 0)  # shown, and not 0
        self.shown_value = np.where(self.shown, upper - ROUNDING_BASE // 2, INF)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_columns, matrix.shape[0]
        lp.col_cost_ = np.zeros(n_columns)
        lp.col_lower_ = np.concatenate([lower, np.zeros(len(aux))])
        lp.col_upper_ = np.concatenate([upper, np.full(len(aux), PROTECTED_UP + PROTECTED_WIDTH)])
        lp.row_lower_ = np.concatenate([b[0] for b in row_bounds])
        lp.row_upper_ = np.concatenate([b[1] for b in row_bounds])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
            matrix.indptr,
            matrix.indices,
            matrix.data,
        )
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("presolve", "off")
        self.highs.passModel(lp)
        self.n_columns = n_columns

    def _solve(self, columns: np.ndarray, costs: np.ndarray, integer: bool = False) -> np.ndarray | None:
        """A whole-number solution minimising sum(costs * x[columns]); None where the optimum
        is unbounded or (as a linear programme) not a whole-number point, since bounds read
        from a fractional point hold for fractions, not for counts."""
        highs = self.highs
        highs.changeColsCost(
            self.n_columns, np.arange(self.n_columns, dtype=np.int32), np.zeros(self.n_columns)
        )
        highs.changeColsCost(len(columns), columns.astype(np.int32), costs.astype(float))
        all_vars = np.arange(self.n_vars, dtype=np.int32)
        if integer:
            highs.changeColsIntegrality(
                self.n_vars, all_vars, np.full(self.n_vars, highspy.HighsVarType.kInteger)
            )
        highs.run()
        status = highs.getModelStatus()
        if integer:
            highs.changeColsIntegrality(
                self.n_vars, all_vars, np.full(self.n_vars, highspy.HighsVarType.kContinuous)
            )
        if status == highspy.HighsModelStatus.kInfeasible:
            raise AuditError(
                "the published figures are inconsistent with their relations: no table fits them"
            )
        if status == highspy.HighsModelStatus.kUnbounded:
            return None
        if status != highspy.HighsModelStatus.kOptimal:
            raise AuditError(f"the solver stopped: {highs.modelStatusToString(status)}")
        solution = np.array(highs.getSolution().col_value)
        fractional = np.abs(solution[: self.n_vars] - np.round(solution[: self.n_vars])).max(initial=0)
        return None if fractional > TOLERANCE and not integer else np.round(solution)

    def _extreme(self, var: int, direction: float) -> tuple[float, np.ndarray | None]:
        """The least (direction 1) or the most (-1) a count can be, as a whole number, and a
        whole-number table where it is that (None where the most is unbounded)."""
        columns, costs = np.array([var]), np.array([direction])
        solution = self._solve(columns, costs)
        if solution is None:
            solution = self._solve(columns, costs, integer=True)
        return (INF, None) if solution is None else (float(solution[var]), solution)

    def related(self, counts: np.ndarray) -> np.ndarray:
        """The counts bound by a relation to any of `counts` (themselves included)."""
        rows = np.flatnonzero(self.relations[:, counts].getnnz(axis=1))
        return np.flatnonzero(self.relations[rows, :].getnnz(axis=0))

    def to_hide(self, failing: np.ndarray) -> list[tuple[int, int]]:
        """(count to hide, the count it protects): for each unprotected count, the smallest
        shown non-zero count within two relations of it, else within three, whose hiding
        leaves it protected (each tried in this model, where it then stays hidden, so that
        one count hidden can protect many). Where none does alone, those counts are hidden
        in that order until it is protected, and those it turns out not to need are shown
        again."""
        chosen: list[tuple[int, int]] = []
        for var in failing:
            var = int(var)
            if self._protected(var):
                continue  # by a count chosen for another
            chosen.extend((count, var) for count in self._hide_to_protect(var))
        return chosen

    def _hide_to_protect(self, var: int) -> list[int]:
        """The shown counts hidden (in this model) to protect count `var`."""
        two = self.related(self.related(np.array([var])))
        three = np.setdiff1d(self.related(two), two)
        nearer, further = self._shown_smallest_first(two), self._shown_smallest_first(three)
        for candidate in nearer[:CANDIDATES_TRIED] + further[:CANDIDATES_TRIED]:
            self._hide(candidate)
            if self._protected(var):
                return [candidate]
            self._show(candidate)
        hidden: list[int] = []
        for candidate in nearer + further:
            self._hide(candidate)
            hidden.append(candidate)
            if self._protected(var):
                for needless in hidden[-2::-1]:  # the last one was needed
                    self._show(needless)
                    if self._protected(var):
                        hidden.remove(needless)
                    else:
                        self._hide(needless)
                return hidden
        return hidden  # all of them; the next audit goes on from there

    def _shown_smallest_first(self, counts: np.ndarray) -> list[int]:
        counts = counts[self.shown[counts]]
        return [int(c) for c in counts[np.argsort(self.shown_value[counts], kind="stable")]]

    def _protected(self, var: int) -> bool:
        high = self._extreme(var, -1.0)[0]
        low = self._extreme(var, 1.0)[0]
        return high >= PROTECTED_UP and high - low >= PROTECTED_WIDTH

    def _hide(self, var: int) -> None:
        """In this model, count `var` as hidden (a row still exists: a denominator is >= 1)."""
        floor = 1.0 if self.variables.loc[var, "kind"] == "denominator" else 0.0
        self.highs.changeColBounds(var, floor, INF)
        self.shown[var] = False

    def _show(self, var: int) -> None:
        self.highs.changeColBounds(var, self.lower[var], self.upper[var])
        self.shown[var] = True

    def audit(self) -> pd.DataFrame:
        """(var, lower, upper): the protected counts whose interval breaks the rule."""
        self._solve(np.zeros(0, dtype=np.int64), np.zeros(0))  # raises where nothing fits
        truth = self.cells.groupby("var")["true_count"].first()
        low = truth.reindex(self.targets).to_numpy(copy=True)  # the truth is one feasible table
        high = low.copy()
        floor = np.asarray(self.highs.getLp().col_lower_)[self.targets]

        def witness(solution: np.ndarray | None) -> bool:
            """Widen every count's interval to take in this table; True if one widened."""
            if solution is None:
                return False
            values = solution[self.targets]
            wider = bool((values < low).any() or (values > high).any())
            low[:], high[:] = np.minimum(low, values), np.maximum(high, values)
            return wider

        def protected() -> np.ndarray:
            return (high >= PROTECTED_UP) & (high - low >= PROTECTED_WIDTH)

        # push every count down at once, then up (each towards PROTECTED_UP + PROTECTED_WIDTH)
        while (low > floor).any() and witness(
            self._solve(self.targets[low > floor], np.ones((low > floor).sum()))
        ):
            pass
        while not protected().all() and witness(
            self._solve(self.aux[~protected()], -np.ones((~protected()).sum()))
        ):
            pass
        # then each count left alone, its extremes exact; every table found is a witness too
        exact = np.zeros(len(self.targets), dtype=bool)
        for position in np.flatnonzero(~protected()):
            if protected()[position]:
                continue
            var = int(self.targets[position])
            high[position], solution = self._extreme(var, -1.0)
            witness(solution)
            if not protected()[position]:
                low[position], solution = self._extreme(var, 1.0)
                witness(solution)
                exact[position] = True
        failing = ~protected()
        assert exact[failing].all()
        return pd.DataFrame({"var": self.targets[failing], "lower": low[failing], "upper": high[failing]})
