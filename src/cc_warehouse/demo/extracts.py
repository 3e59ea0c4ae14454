"""What the three extracts share: text columns with deliberate bad input, and file versions.

Every extract is built as Arrow text columns. Noise draws the low fixed rates of
BAD_INPUT_RATES deterministically (rows of one delivery agree), and Edited queues masked edits
of a column (blanks, explicit unknown and unknown codes, impossible values, NHS numbers failing
Modulus 11, odd and unknown postcodes, garbled dates) to apply in one pass. An Extract says
which file each row goes into; _occurrences puts every record in its home extract and resent
ones, first uncorrected, again in the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from cc_warehouse.demo.common import (
    ETHNIC_CODES,
    NOT_KNOWN,
    NOT_STATED,
    Bools,
    Ints,
    _ints,
    _iso_dates,
    _labels,
)
from cc_warehouse.demo.geography import POSTCODE_UNIT_LETTERS, Geography

# Row-level bad input: the share of rows (or deliveries) hit, per field where it applies.
BAD_INPUT_RATES = {
    "blank_key": 0.0005,
    "blank_required_date": 0.0005,
    "garbled_required_date": 0.0005,
    "impossible_value": 0.001,
    "unknown_code": 0.001,
    "explicit_unknown": 0.005,
    "blank_field": 0.003,
    "invalid_nhs_number": 0.001,
    "blank_nhs_number": 0.002,
    "date_after_extract": 0.0005,
    "mother_born_after_delivery": 0.0005,
    "lower_case_code": 0.003,
    "postcode_lower_case": 0.005,
    "postcode_no_space": 0.005,
    "postcode_extra_spaces": 0.002,
    "postcode_unknown": 0.002,
    "postcode_outside_area": 0.002,
}
NO_FIXED_ABODE = "ZZ99 3VZ"  # the NHS pseudo-postcode
GARBLED_DATES = ("31/02/2021", "2021-13-01", "00/00/0000", "UNKNOWN", "2020-02-30", "12/13/2020")


# --------------------------------------------------------------------------------------------
# Deterministic noise: bad input in text columns
# --------------------------------------------------------------------------------------------


Edit = Callable[[pa.Array, Bools], pa.Array]


@dataclass(frozen=True)
class Edited:
    """A text column with masked edits queued, to apply in order.

    Each edit touches a few rows in a thousand: they are applied to the touched rows only and
    put back in one pass, rather than copying the whole column once per edit.
    """

    values: pa.Array
    edits: tuple[tuple[Bools, Edit], ...] = ()

    def then(self, mask: Bools, edit: Edit) -> Edited:
        return Edited(self.values, (*self.edits, (mask, edit)))

    def finished(self) -> pa.Array:
        touched = np.zeros(len(self.values), dtype=bool)
        for mask, _ in self.edits:
            touched |= mask
        rows = np.flatnonzero(touched)
        if rows.size == 0:
            return self.values
        subset = self.values.take(pa.array(rows))
        for mask, edit in self.edits:
            local = mask[rows]
            if local.any():
                subset = edit(subset, local)
        # one take from the column and its edited rows: faster than replace_with_mask on text
        source = np.arange(len(self.values))
        source[rows] = len(self.values) + np.arange(rows.size)
        return pa.concat_arrays([self.values, subset]).take(pa.array(source))


Text = pa.Array | Edited


def _edited(values: Text) -> Edited:
    return values if isinstance(values, Edited) else Edited(values)


def _finished(columns: dict[str, Text]) -> dict[str, pa.Array]:
    return {name: _edited(values).finished() for name, values in columns.items()}


def _put(values: Text, mask: Bools, replacement: str | None | pa.Array) -> Edited:
    """Replace the masked rows; an array replacement holds one value per masked row."""

    def put(subset: pa.Array, rows: Bools) -> pa.Array:
        fill = replacement
        if fill is None or isinstance(fill, str):
            fill = pa.array([fill] * int(np.count_nonzero(rows)), type=pa.string())
        return pc.replace_with_mask(subset, pa.array(rows), fill)

    return _edited(values).then(mask, put)


class Noise:
    """Deterministic masks and draws; rows of one group (one delivery) always agree."""

    def __init__(self, rng: np.random.Generator, groups: Ints) -> None:
        """groups: consecutive group numbers from 0, one per row."""
        self.rng = rng
        self.groups = groups
        self.size = int(groups.max()) + 1 if groups.size else 0
        self.one_row_each = self.size == groups.size  # then groups is 0, 1, 2, ...: no gather

    def _per_row(self, values: NDArray) -> NDArray:
        return values if self.one_row_each else values[self.groups]

    def mask(self, rate: float) -> Bools:
        return self._per_row(self.rng.random(self.size) < rate)

    def bad(self, kind: str) -> Bools:
        return self.mask(BAD_INPUT_RATES[kind])

    def integers(self, low: int, high: int) -> Ints:
        return self._per_row(self.rng.integers(low, high, self.size))

    def choose(self, mask: Bools, options: Sequence[str]) -> pa.Array:
        return _labels(self.integers(0, len(options))[mask], options)


def _group_ids(*keys: Ints) -> Ints:
    """Consecutive rows with equal keys form one group."""
    if keys[0].size == 0:
        return keys[0]
    change = np.zeros(keys[0].size, dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.cumsum(change) - 1


def _with_unknowns(
    values: Text,
    noise: Noise,
    explicit: str | None = None,
    unknown_codes: Sequence[str] = (),
) -> Edited:
    """Blanks, an explicit unknown code and codes outside the code list, at low rates."""
    values = _put(values, noise.bad("blank_field"), None)
    if explicit is not None:
        values = _put(values, noise.bad("explicit_unknown"), explicit)
    if unknown_codes:
        mask = noise.bad("unknown_code")
        values = _put(values, mask, noise.choose(mask, unknown_codes))
    return values


def _transform(values: Text, mask: Bools, function: Callable[[pa.Array], pa.Array]) -> Edited:
    def transform(subset: pa.Array, rows: Bools) -> pa.Array:
        chosen = pa.array(rows)
        return pc.replace_with_mask(subset, chosen, function(subset.filter(chosen)))

    return _edited(values).then(mask, transform)


def _nhs_text(noise: Noise, numbers: Ints, present: Bools | None = None) -> pa.Array:
    numbers = numbers.copy()
    broken = noise.bad("invalid_nhs_number")
    numbers[broken] = numbers[broken] // 10 * 10 + (numbers[broken] % 10 + noise.integers(1, 10)[broken]) % 10
    blank = noise.bad("blank_nhs_number")
    if present is not None:
        blank |= ~present
    return _ints(numbers, blank)


def _postcode_text(noise: Noise, postcode: Ints, geo: Geography) -> Edited:
    """The resident's postcode, now and then in odd case or spacing, unknown or outside."""
    outside = noise.bad("postcode_outside_area")
    outside_index = geo.n_city_postcodes + noise.integers(0, len(geo.postcode) - geo.n_city_postcodes)
    text = geo.postcode.take(pa.array(np.where(outside, outside_index, postcode)))
    unknown = noise.bad("postcode_unknown")
    serial = noise.integers(0, 4000)[unknown]
    made_up = pc.binary_join_element_wise(
        "DC0 ",
        _ints(serial // 400),
        _labels(serial % 20, POSTCODE_UNIT_LETTERS),
        _labels(serial // 20 % 20, POSTCODE_UNIT_LETTERS),
        "",
    )
    text = _put(text, unknown, pc.if_else(pa.array(serial < 1200), NO_FIXED_ABODE, made_up))
    text = _put(text, noise.bad("blank_field"), None)
    text = _transform(text, noise.bad("postcode_lower_case"), pc.utf8_lower)
    text = _transform(text, noise.bad("postcode_no_space"), lambda a: pc.replace_substring(a, " ", ""))
    return _transform(
        text,
        noise.bad("postcode_extra_spaces"),
        lambda a: pc.binary_join_element_wise(" ", pc.replace_substring(a, " ", "  "), ""),
    )


def _ethnic_text(noise: Noise, ethnic: Ints) -> Edited:
    ethnic = np.where(noise.mask(0.006), NOT_STATED, ethnic)
    ethnic = np.where(noise.mask(0.003), NOT_KNOWN, ethnic)
    return _with_unknowns(_labels(ethnic, ETHNIC_CODES), noise, unknown_codes=("Q", "I", "O", "WB"))


def _required_date(noise: Noise, days: Ints) -> Edited:
    text = _put(_iso_dates(days), noise.bad("blank_required_date"), None)
    garbled = noise.bad("garbled_required_date")
    return _put(text, garbled, noise.choose(garbled, GARBLED_DATES))


def _impossible(noise: Noise, values: Ints, options: Sequence[int]) -> Ints:
    mask = noise.bad("impossible_value")
    choice = np.asarray(options)[noise.integers(0, len(options))]
    return np.where(mask, choice, values)


# --------------------------------------------------------------------------------------------
# Extracts: which record goes into which file, in which version
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    feed: str
    columns: dict[str, pa.Array]
    date_columns: tuple[str, ...]
    file_index: Ints  # per row, sorted
    file_days: Ints  # extract date of each file

    @property
    def rows(self) -> int:
        return self.file_index.size


def _occurrences(home: Ints, resend: Bools) -> tuple[Ints, Ints, Bools]:
    """Each record in its home extract, and resent ones again in the next; sorted by file.

    Returns record index, file index and whether the row is the first (uncorrected) version
    of a resent record.
    """
    record = np.arange(home.size)
    again = np.flatnonzero(resend)
    records = np.concatenate([record, again])
    files = np.concatenate([home, home[again] + 1])
    first = np.concatenate([resend, np.zeros(again.size, dtype=bool)])
    order = np.lexsort((records, files))
    return records[order], files[order], first[order]
