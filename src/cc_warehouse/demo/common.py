"""What every part of the demo generator shares.

The array types the model is written in (a Frame is a dict of equal-length numpy columns), the
Scale of the city and its presets, one independent random stream per part of the model, small
numeric helpers (dates as day numbers, logistic models calibrated to a target rate), valid
fictional NHS numbers and their Modulus 11 check digit, the ethnic category codes that both
maternity and NCMP draw from, and the helpers that spell numpy columns as Arrow text.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
# Named numpy columns of equal length: all the model needs of a data frame, without the copies
# a pandas frame makes to consolidate, take and concatenate its blocks.
Frame = dict[str, NDArray]

# --------------------------------------------------------------------------------------------
# Scale
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    births_per_year: int = 3_000
    centres: int = 14
    lsoas: int = 150
    las: int = 1
    first_year: int = 2019
    years: int = 6
    # Shifts the IMD deciles towards the deprived end (a poorer than average city); England's
    # deciles are uniform by definition. Set by the preset only.
    deprivation_shift: float = 0.3


PRESETS = {
    "city": Scale(),
    "region": Scale(births_per_year=60_000, centres=300, lsoas=3_300, las=15, deprivation_shift=0.15),
    "england": Scale(births_per_year=600_000, centres=3_000, lsoas=33_000, las=150, deprivation_shift=0.0),
}
SCALE_FLAGS = ("births_per_year", "centres", "lsoas", "las", "first_year", "years")


# --------------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    """One independent random stream per part of the model, so parts can change separately."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _day(year: int, month: int, day: int) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))


def _weekday_on_or_after(days: Ints) -> Ints:
    rolled = np.busday_offset(days.astype("datetime64[D]"), 0, roll="forward")
    return rolled.astype(np.int64)


def _sigmoid(x: Floats) -> Floats:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _normal_cdf(x: Floats) -> Floats:
    """Abramowitz and Stegun 7.1.26 (error < 1.5e-7); numpy has no erf."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _calibrated(eta: Floats, target: float, weight: Floats | None = None) -> Floats:
    """Probabilities sigmoid(a + eta), with a chosen so that mean(weight * p) = target."""
    if eta.size == 0:
        return eta.astype(np.float64)
    step = max(1, eta.size // 50_000)
    sample = eta[::step]
    sample_weight = None if weight is None else weight[::step]
    p = np.empty(sample.size)  # sigmoid(middle + sample), computed in place
    low, high = -30.0, 30.0
    for _ in range(40):
        middle = 0.5 * (low + high)
        np.negative(np.add(sample, middle, out=p), out=p)
        np.divide(1.0, np.add(np.exp(p, out=p), 1.0, out=p), out=p)
        if sample_weight is not None:
            np.multiply(sample_weight, p, out=p)
        if np.mean(p) < target:
            low = middle
        else:
            high = middle
    return _sigmoid(0.5 * (low + high) + eta)


def _draw_by_group(rng: np.random.Generator, eta: Floats, group: Ints, targets: Sequence[float]) -> Bools:
    """Bernoulli draws whose mean in each group (e.g. financial year) hits that group's target."""
    probability = np.zeros(eta.size)
    for index, target in enumerate(targets):
        members = group == index
        probability[members] = _calibrated(eta[members], target)
    return rng.random(eta.size) < probability


def _rows(frame: Frame) -> int:
    return next(iter(frame.values())).size


def _take(frame: Frame, rows: Ints | Bools) -> Frame:
    return {name: column[rows] for name, column in frame.items()}


def _concat(frames: Sequence[Frame]) -> Frame:
    return {name: np.concatenate([frame[name] for frame in frames]) for name in frames[0]}


@dataclass(frozen=True)
class Ordered:
    """A frame read in a given row order: a column is gathered only when read, so choosing
    rows of it (`rows`) composes the orders instead of copying every column twice."""

    frame: Frame
    order: Ints

    def __getitem__(self, name: str) -> NDArray:
        return self.frame[name][self.order]

    def rows(self, rows: Ints) -> Ordered:
        return Ordered(self.frame, self.order[rows])


def _trend(first_last: tuple[float, float], years: int) -> Floats:
    return np.linspace(first_last[0], first_last[1], years) if years > 1 else np.array([first_last[0]])


# --------------------------------------------------------------------------------------------
# NHS numbers
# --------------------------------------------------------------------------------------------

# Every NHS number starts with 9, outside the ranges England and Wales issue to patients.
# Mothers, babies and children met only at school draw from disjoint ranges, so never clash.
MOTHER_NHS_BASES = (900_000_000, 930_000_000)
BABY_NHS_BASES = (930_000_000, 965_000_000)
SCHOOL_CHILD_NHS_BASES = (965_000_000, 1_000_000_000)


def _weighted_digit_sums(digits: int, first_weight: int) -> Ints:
    """Sum of digit times weight (first_weight, first_weight - 1, ...) of every number that long."""
    numbers = np.arange(10**digits)
    return sum((numbers // 10 ** (digits - 1 - k)) % 10 * (first_weight - k) for k in range(digits))


# Modulus 11 with weights 10..2 over nine digits, as two table look-ups (first four digits, last
# five) rather than nine integer divisions a number: numpy's int64 division is slow.
NHS_HIGH_SUMS, NHS_LOW_SUMS = _weighted_digit_sums(4, 10), _weighted_digit_sums(5, 6)
NHS_CHECK_OF_SUM = (11 - np.arange(NHS_HIGH_SUMS.max() + NHS_LOW_SUMS.max() + 1) % 11) % 11


def nhs_check_digit(base: Ints) -> Ints:
    """Modulus 11 check digit of nine-digit bases; 10 means the base cannot be used."""
    if base.size and (base.min() < 0 or base.max() >= 1_000_000_000):
        base = base % 1_000_000_000
    # exact: a float64 quotient of numbers below 2**53 never rounds across a whole number here
    high = np.floor(base / 100_000.0).astype(np.int64)
    low = base - high * 100_000
    return NHS_CHECK_OF_SUM[NHS_HIGH_SUMS[high] + NHS_LOW_SUMS[low]]


def is_valid_nhs_number(numbers: Ints) -> Bools:
    return (numbers >= 1_000_000_000) & (nhs_check_digit(numbers // 10) == numbers % 10)


def _first_occurrences(values: Ints) -> Bools:
    """True where a value appears for the first time (sort based: hashing is slow here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(values.size, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    first = np.zeros(values.size, dtype=bool)
    first[order[new]] = True
    return first


def _nhs_numbers(rng: np.random.Generator, count: int, bases: tuple[int, int]) -> Ints:
    """Unique valid ten-digit NHS numbers: draw bases, drop check digit 10 and repeats."""
    found = np.zeros(0, dtype=np.int64)
    while found.size < count:
        base = rng.integers(bases[0], bases[1], int((count - found.size) * 1.25) + 16)
        check = nhs_check_digit(base)
        usable = check < 10
        found = np.concatenate([found, base[usable] * 10 + check[usable]])
        found = found[_first_occurrences(found)]
    return found[:count]


# --------------------------------------------------------------------------------------------
# Ethnic categories (maternity and NCMP)
# --------------------------------------------------------------------------------------------

ETHNIC_CODES = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S",
                "Z", "99")  # fmt: skip
WHITE_SHARES = (0.82, 0.02, 0.16)  # A, B, C
BME_SHARES = np.array([6, 4, 5, 5, 8, 22, 10, 7, 5, 12, 3, 3, 10]) / 100  # D .. S
FIRST_BME, NOT_STATED, NOT_KNOWN = 3, 16, 17


def _ethnic_categories(rng: np.random.Generator, bme_share: Floats) -> Ints:
    bme = rng.random(bme_share.size) < bme_share
    white = rng.choice(3, size=bme.size, p=WHITE_SHARES)
    other = FIRST_BME + rng.choice(BME_SHARES.size, size=bme.size, p=BME_SHARES)
    return np.where(bme, other, white)


# --------------------------------------------------------------------------------------------
# Formatting: numpy -> pyarrow strings
# --------------------------------------------------------------------------------------------


def _spelt(values: Ints, blank: Bools | None, spell: Callable[[Ints, Bools | None], pa.Array]) -> pa.Array:
    """spell(values, blank), but a narrow range (days, weeks, grams) is spelt once per value in
    it and looked up: Arrow's take is several times faster than its number and date casts."""
    if values.size >= 1024:
        low, high = int(values.min()), int(values.max())
        if high - low < values.size // 4:
            words = spell(np.arange(low, high + 1), None)
            return words.take(pa.array(values - low, type=pa.int64(), mask=blank))
    return spell(values, blank)


def _ints(values: Ints, blank: Bools | None = None) -> pa.Array:
    return _spelt(values, blank, lambda v, b: pc.cast(pa.array(v, type=pa.int64(), mask=b), pa.string()))


def _tenths(values: Ints, blank: Bools | None = None) -> pa.Array:
    whole, tenth = np.divmod(values, 10)
    return pc.binary_join_element_wise(_ints(whole, blank), _ints(tenth), ".")


def _labels(index: Ints, labels: Sequence[str], blank: Bools | None = None) -> pa.Array:
    return pa.array(list(labels), type=pa.string()).take(
        pa.array(np.asarray(index, dtype=np.int32), mask=blank)
    )


def _flags(values: Bools, blank: Bools | None = None) -> pa.Array:
    return _labels(np.where(values, 0, 1), ("Y", "N"), blank)


def _iso_dates(days: Ints, blank: Bools | None = None) -> pa.Array:
    return _spelt(
        days,
        blank,
        lambda d, b: pc.cast(pa.array(d.astype("datetime64[D]"), type=pa.date32(), mask=b), pa.string()),
    )


def _ids(prefix: str, sequence: Ints, width: int) -> pa.Array:
    return pc.binary_join_element_wise(
        prefix, pc.utf8_lpad(_ints(sequence + 1), width=width, padding="0"), ""
    )
