"""Demo City's map: LSOAs, local authorities, children's centres, schools and postcodes.

LSOAs are the cells of a jittered grid clipped to a blob-shaped city on the Dogger Bank.
Recursive bisection groups them into local authorities, then children's centre areas and
school catchments, so every area is contiguous. Each LSOA gets a deprivation score that sets
its IMD decile, its share of teenage mothers, its birth rate and its ethnic mix, and 15-25
fictional postcodes. build_geography makes the whole Geography from the scale and seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from cc_warehouse.demo.common import (
    Floats,
    Ints,
    Scale,
    _ints,
    _labels,
    _logit,
    _normal_cdf,
    _rng,
    _sigmoid,
)

CITY_LAT, CITY_LON = 54.75, 2.0  # the Dogger Bank
CELL_KM = 0.9
KM_PER_DEGREE = 111.2
PUPILS_PER_SCHOOL_YEAR = 45

CENTRE_WORDS = (
    "Acorn", "Brontë", "Bluebell", "Cedar", "Daisy", "Elder", "Foxglove", "Hazel", "Ivy",
    "Juniper", "Kestrel", "Larch", "Maple", "Nettle", "Oakwood", "Primrose", "Quarry", "Rowan",
    "Sorrel", "Thistle", "Violet", "Willow", "Yarrow", "Alder", "Birch", "Clover", "Fern",
    "Gorse", "Heather", "Iris", "Linden", "Magnolia", "Poppy", "Sage", "Teasel", "Holly",
    "Laurel", "Bramble", "Heron", "Wren",
)  # fmt: skip
PLACE_WORDS = (
    "Park", "Lane", "Hill", "Green", "Fields", "Road", "Vale", "Bank", "Gate", "Rise", "Meadow",
    "Brook", "Croft", "Row", "Common", "Grove", "Square", "Way", "End", "Mill",
)  # fmt: skip
CENTRE_KINDS = ("Children's Centre", "Family Hub", "Early Years Centre", "Family Centre")
POSTCODE_AREAS = ("DC", "DM", "DP", "DR", "DU", "DW")  # not UK postcode areas
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
POSTCODES_PER_AREA = 99 * 10 * 400


@dataclass(frozen=True)
class Geography:
    lsoa_code: NDArray[np.str_]  # the city's LSOAs, then a few outside every centre
    n_lsoas: int
    lsoa_la: Ints
    lsoa_centre: Ints
    lsoa_school: Ints
    deprivation: Floats  # standardised; high = deprived
    imd_decile: Ints  # city and outside LSOAs
    teen_share: Floats
    bme_share: Floats
    birth_share: Floats
    polygons: Floats  # (LSOA, vertex, lon/lat)
    centre_code: list[str]
    centre_name: list[str]
    nbv_recording_effect: Floats
    review_done_effect: Floats
    ncmp_participation_effect: Floats
    la_code: list[str]
    la_name: list[str]
    postcode: pa.Array  # normal form; the city's postcodes first
    postcode_lsoa: Ints
    postcode_start: Ints  # per LSOA (city and outside)
    postcode_count: Ints
    n_city_postcodes: int
    n_schools: int

    def draw_postcodes(self, rng: np.random.Generator, lsoa: Ints) -> Ints:
        offset = np.floor(rng.random(lsoa.size) * self.postcode_count[lsoa]).astype(np.int64)
        return self.postcode_start[lsoa] + offset

    def draw_lsoas(self, rng: np.random.Generator, count: int) -> Ints:
        return rng.choice(self.n_lsoas, size=count, p=self.birth_share)


def _apportion(total: int, sizes: Ints) -> Ints:
    """Split total parts over groups in proportion to size: at least 1, at most size each."""
    quota = total * sizes / sizes.sum()
    parts = np.minimum(np.maximum(1, np.floor(quota)).astype(np.int64), sizes)
    while parts.sum() < total:
        room = np.where(parts < sizes, quota - parts, -np.inf)
        parts[np.argmax(room)] += 1
    while parts.sum() > total:
        excess = np.where(parts > 1, parts - quota, -np.inf)
        parts[np.argmax(excess)] -= 1
    return parts


def _partition(cols: Ints, rows: Ints, parts: int) -> Ints:
    """Contiguous groups of near-equal size, by recursive bisection of grid cells."""
    labels = np.zeros(cols.size, dtype=np.int64)
    pending = [(np.arange(cols.size), 0, parts)]
    while pending:
        members, first_label, count = pending.pop()
        if count == 1:
            labels[members] = first_label
            continue
        lower_count = count // 2
        lower_size = round(members.size * lower_count / count)
        c, r = cols[members], rows[members]
        order = np.lexsort((r, c)) if np.ptp(c) >= np.ptp(r) else np.lexsort((c, r))
        pending.append((members[order[lower_size:]], first_label + lower_count, count - lower_count))
        pending.append((members[order[:lower_size]], first_label, lower_count))
    return labels


def _nested_partition(cols: Ints, rows: Ints, group: Ints, parts: Ints) -> Ints:
    labels = np.zeros(cols.size, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(parts)[:-1]))
    for index, count in enumerate(parts):
        members = np.flatnonzero(group == index)
        labels[members] = offsets[index] + _partition(cols[members], rows[members], int(count))
    return labels


def _city_cells(rng: np.random.Generator, count: int) -> tuple[Ints, Ints, int]:
    """Grid cells of a blob-shaped city: star-shaped, so without holes or islands."""
    side = math.ceil(1.3 * math.sqrt(4 * count / math.pi)) + 4
    rows, cols = np.divmod(np.arange(side * side, dtype=np.int64), side)
    dx, dy = cols + 0.5 - side / 2, rows + 0.5 - side / 2
    theta = np.arctan2(dy, dx)
    phase = rng.uniform(0, 2 * math.pi, 2)
    reach = 1 + 0.12 * np.sin(3 * theta + phase[0]) + 0.06 * np.sin(5 * theta + phase[1])
    keep = np.sort(np.argsort(np.hypot(dx, dy) / reach, kind="stable")[:count])
    return cols[keep], rows[keep], side


def _cell_polygons(rng: np.random.Generator, cols: Ints, rows: Ints, side: int) -> Floats:
    """Jittered grid cells with a jittered midpoint on every edge, shared by neighbours."""
    n = side + 1
    vx = np.arange(n)[None, :] + rng.uniform(-0.22, 0.22, (n, n))
    vy = np.arange(n)[:, None] + rng.uniform(-0.22, 0.22, (n, n))
    hx = (vx[:, :-1] + vx[:, 1:]) / 2 + rng.uniform(-0.1, 0.1, (n, side))
    hy = (vy[:, :-1] + vy[:, 1:]) / 2 + rng.uniform(-0.12, 0.12, (n, side))
    ux = (vx[:-1, :] + vx[1:, :]) / 2 + rng.uniform(-0.12, 0.12, (side, n))
    uy = (vy[:-1, :] + vy[1:, :]) / 2 + rng.uniform(-0.1, 0.1, (side, n))
    r, c = rows, cols
    # counter-clockwise from the bottom-left corner, as RFC 7946 asks of exterior rings
    ring = [
        (vx, vy, r, c),
        (hx, hy, r, c),
        (vx, vy, r, c + 1),
        (ux, uy, r, c + 1),
        (vx, vy, r + 1, c + 1),
        (hx, hy, r + 1, c),
        (vx, vy, r + 1, c),
        (ux, uy, r, c),
        (vx, vy, r, c),
    ]
    x = np.stack([px[pr, pc_] for px, _, pr, pc_ in ring], axis=1)
    y = np.stack([py[pr, pc_] for _, py, pr, pc_ in ring], axis=1)
    lat = CITY_LAT + (y - side / 2) * CELL_KM / KM_PER_DEGREE
    lon = CITY_LON + (x - side / 2) * CELL_KM / (KM_PER_DEGREE * math.cos(math.radians(CITY_LAT)))
    return np.round(np.stack([lon, lat], axis=2), 6)


def _deprivation(
    rng: np.random.Generator,
    cols: Ints,
    rows: Ints,
    la: Ints,
    centre_effect: Floats,
    centre: Ints,
    n_las: int,
) -> Floats:
    """Centre effect + LA effect + inner-city gradient + noise, standardised."""
    size = np.bincount(la, minlength=n_las)
    mid_x = np.bincount(la, cols, n_las) / size
    mid_y = np.bincount(la, rows, n_las) / size
    distance = np.hypot(cols - mid_x[la], rows - mid_y[la])
    furthest = np.zeros(n_las)
    np.maximum.at(furthest, la, distance)
    relative = distance / np.maximum(furthest[la], 1.0)
    la_effect = rng.normal(0, 0.4, n_las) if n_las > 1 else np.zeros(1)
    raw = centre_effect[centre] + la_effect[la] + 0.7 * (0.5 - relative)
    raw = raw + rng.normal(0, 0.5, cols.size)
    return (raw - raw.mean()) / max(raw.std(), 1e-9)


def _lsoa_codes(count: int) -> NDArray[np.str_]:
    """E01 codes in a range no real LSOA uses: E01999001 .., or E0199xxxx / E019xxxxx."""
    width = max(3, len(str(count)))
    prefix = "E01" + "9" * (6 - width)
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)])


def _centre_names(count: int) -> list[str]:
    names = []
    n_words, n_places = len(CENTRE_WORDS), len(PLACE_WORDS)
    for index in range(count):
        word = CENTRE_WORDS[index % n_words]
        place = PLACE_WORDS[(index % n_words + index // n_words) % n_places]
        kind_index = index // (n_words * n_places)
        kind = CENTRE_KINDS[kind_index % len(CENTRE_KINDS)]
        suffix = f" {kind_index // len(CENTRE_KINDS) + 1}" if kind_index >= len(CENTRE_KINDS) else ""
        names.append(f"{word} {place} {kind}{suffix}")
    return names


def _postcodes(rng: np.random.Generator, n_lsoas: int) -> tuple[pa.Array, Ints, Ints, Ints]:
    """Fictional postcodes, consecutive per LSOA; returns text, LSOA, start and count."""
    count = rng.integers(15, 26, n_lsoas)
    total = int(count.sum())
    if total > POSTCODES_PER_AREA * len(POSTCODE_AREAS):
        raise ValueError("too many LSOAs for the fictional postcode areas")
    ordinal = np.arange(total)
    area, rest = np.divmod(ordinal, POSTCODES_PER_AREA)
    units = np.array([a + b for a in POSTCODE_UNIT_LETTERS for b in POSTCODE_UNIT_LETTERS])
    unit = rng.permutation(units.size)[rest % 400]
    outward = pc.binary_join_element_wise(_labels(area, POSTCODE_AREAS), _ints(1 + rest // 4000), "")
    inward = pc.binary_join_element_wise(_ints((rest // 400) % 10), _labels(unit, units), "")
    text = pc.binary_join_element_wise(outward, inward, " ")
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    return text, np.repeat(np.arange(n_lsoas), count), start, count


def build_geography(scale: Scale, seed: int) -> Geography:
    rng = _rng(seed, "geography")
    cols, rows, side = _city_cells(rng, scale.lsoas)
    la = _partition(cols, rows, scale.las)
    la_size = np.bincount(la, minlength=scale.las)
    centre = _nested_partition(cols, rows, la, _apportion(scale.centres, la_size))
    n_schools = min(scale.lsoas, max(scale.las, round(scale.births_per_year / PUPILS_PER_SCHOOL_YEAR)))
    school = _nested_partition(cols, rows, la, _apportion(n_schools, la_size))
    order = np.lexsort((cols, -rows, centre))
    cols, rows, la, centre, school = (a[order] for a in (cols, rows, la, centre, school))
    centre_effect = rng.normal(0, 0.85, scale.centres)
    deprivation = _deprivation(rng, cols, rows, la, centre_effect, centre, scale.las)
    n_outside = max(2, scale.lsoas // 50)
    decile = 1 + np.floor(10 * _normal_cdf(-deprivation - scale.deprivation_shift))
    decile = np.concatenate([np.clip(decile, 1, 10), rng.integers(1, 11, n_outside)])
    bme_centre = _logit(0.14) + rng.normal(0, 1.1, scale.centres) + 0.3 * centre_effect
    bme_share = _sigmoid(bme_centre[centre] + rng.normal(0, 0.45, scale.lsoas))
    teen_share = _sigmoid(_logit(0.03) + 0.6 * deprivation + rng.normal(0, 0.15, scale.lsoas))
    birth_rate = np.exp(0.25 * deprivation + rng.normal(0, 0.3, scale.lsoas))
    postcode, postcode_lsoa, start, count = _postcodes(rng, scale.lsoas + n_outside)
    la_code = [f"E06{999_999 - i}" for i in range(scale.las)]
    width = max(2, len(str(scale.centres)))
    return Geography(
        lsoa_code=_lsoa_codes(scale.lsoas + n_outside),
        n_lsoas=scale.lsoas,
        lsoa_la=la,
        lsoa_centre=centre,
        lsoa_school=school,
        deprivation=deprivation,
        imd_decile=decile.astype(np.int64),
        teen_share=teen_share,
        bme_share=bme_share,
        birth_share=birth_rate / birth_rate.sum(),
        polygons=_cell_polygons(rng, cols, rows, side),
        centre_code=[f"CC{i:0{width}d}" for i in range(1, scale.centres + 1)],
        centre_name=_centre_names(scale.centres),
        nbv_recording_effect=rng.normal(0, 0.9, scale.centres),
        review_done_effect=rng.normal(0, 0.5, scale.centres),
        ncmp_participation_effect=rng.normal(0, 0.4, scale.centres),
        la_code=la_code,
        la_name=["Demo City"] + [f"Demo Borough {i}" for i in range(2, scale.las + 1)],
        postcode=postcode,
        postcode_lsoa=postcode_lsoa,
        postcode_start=start,
        postcode_count=count,
        n_city_postcodes=int(count[: scale.lsoas].sum()),
        n_schools=n_schools,
    )
