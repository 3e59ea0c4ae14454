"""Writing the landing folder: extract files with file-level quirks, and the reference files.

Each feed's extracts are dealt the quirks of FILE_QUIRK_SHARES (a UTF-8 byte order mark,
Windows-1252, CRLF line endings, day-first or mixed dates, header spellings, an extra column,
quoted fields), every quirk reaching at least one file. Arrow writes the CSV. The reference
files map postcodes to LSOAs and LSOAs to centres, local authorities and IMD deciles, with the
LSOA boundaries as GeoJSON; the marker file says the folder is synthetic.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cc_warehouse.demo.common import Bools, Floats, Scale, _ints, _labels, _rng
from cc_warehouse.demo.extracts import Extract
from cc_warehouse.demo.geography import Geography

REFERENCE_FILES = (
    "postcode_lsoa.csv", "lsoa_centre.csv", "lsoa_imd.csv", "lsoa_boundaries.geojson",
)  # fmt: skip
# File-level quirks: the share of a feed's extracts that carry each (at least one file each).
FILE_QUIRK_SHARES = {
    "utf8_bom": 0.10,
    "windows_1252": 0.08,
    "crlf": 0.20,
    "dates_dmy": 0.10,
    "dates_mixed": 0.10,
    "header_variant": 0.12,
    "extra_column": 0.08,
    "quoted": 0.12,
}
COMMENTS = (
    "Interpreter booked – Polish",
    "Seen at Café Bébé group",
    "Fee £0 waived",
    "Moved in – records requested",
)


@dataclass(frozen=True)
class FileStyle:
    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" or "cp1252"
    crlf: bool = False
    dates: str = "iso"  # "iso", "dmy" or "mixed"
    header_variant: bool = False
    extra_column: bool = False
    quoted: bool = False


def _file_styles(rng: np.random.Generator, count: int) -> list[FileStyle]:
    """Deal each quirk to a few files; every quirk reaches at least one file of the feed."""

    def dealt(share: float) -> int:
        return max(1, round(share * count))

    styles = [FileStyle() for _ in range(count)]
    order = rng.permutation(count)
    bom, cp1252 = dealt(FILE_QUIRK_SHARES["utf8_bom"]), dealt(FILE_QUIRK_SHARES["windows_1252"])
    for position, index in enumerate(order[: bom + cp1252]):
        encoding = "utf-8-sig" if position < bom else "cp1252"
        styles[index] = replace(styles[index], encoding=encoding, extra_column=(encoding == "cp1252"))
    order = rng.permutation(count)
    dmy, mixed = dealt(FILE_QUIRK_SHARES["dates_dmy"]), dealt(FILE_QUIRK_SHARES["dates_mixed"])
    for position, index in enumerate(order[: dmy + mixed]):
        styles[index] = replace(styles[index], dates="dmy" if position < dmy else "mixed")
    for quirk, field in (
        ("crlf", "crlf"),
        ("header_variant", "header_variant"),
        ("extra_column", "extra_column"),
        ("quoted", "quoted"),
    ):
        for index in rng.choice(count, size=min(count, dealt(FILE_QUIRK_SHARES[quirk])), replace=False):
            styles[index] = replace(styles[index], **{field: True})
    return styles


def _dmy(iso: pa.Array, rows: Bools) -> pa.Array:
    """DD/MM/YYYY for the chosen rows; values that are not ISO dates stay as they are."""
    looks_iso = pc.match_substring_regex(iso, r"^\d{4}-\d{2}-\d{2}$")
    dmy = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(iso, 8, 10),
        pc.utf8_slice_codeunits(iso, 5, 7),
        pc.utf8_slice_codeunits(iso, 0, 4),
        "/",
    )
    return pc.if_else(pc.and_kleene(looks_iso, pa.array(rows)), dmy, iso)


def _header_variant(rng: np.random.Generator, names: Sequence[str]) -> list[str]:
    """Upper case, title case or padded with spaces, as spreadsheets and old systems do."""

    def title(name: str) -> str:
        return "_".join(p.upper() if p in ("id", "nhs") else p.capitalize() for p in name.split("_"))

    spellings = rng.integers(0, 4, len(names))
    return [
        (name.upper(), title(name), f" {title(name)} ", name)[spelling]
        for name, spelling in zip(names, spellings, strict=True)
    ]


def _extra_column(rng: np.random.Generator, rows: int, non_ascii: bool) -> tuple[str, pa.Array]:
    if non_ascii:
        pick = rng.integers(0, len(COMMENTS), rows)
        blank = rng.random(rows) >= 0.03
        if rows:
            blank[0], pick[0] = False, 1
        return "comments", _labels(pick, COMMENTS, blank)
    name, value = [("record_status", "ACTIVE"), ("source_system", "CHIS 4.2"), ("extract_run", "nightly")][
        int(rng.integers(0, 3))
    ]
    return name, pa.array([value] * rows, type=pa.string())


def _write_csv(path: Path, header: Sequence[str], arrays: Sequence[pa.Array], style: FileStyle) -> None:
    """Arrow writes the rows straight to the file; only Windows-1252 files pass through memory."""
    eol = "\r\n" if style.crlf else "\n"
    header_line = ",".join(f'"{name}"' if style.quoted else name for name in header) + eol
    table = pa.Table.from_arrays(list(arrays), names=[f"c{i}" for i in range(len(arrays))])
    options = pacsv.WriteOptions(
        include_header=False, quoting_style="all_valid" if style.quoted else "none", eol=eol
    )
    if style.encoding == "cp1252":
        body = pa.BufferOutputStream()
        pacsv.write_csv(table, body, write_options=options)
        path.write_bytes((header_line + body.getvalue().to_pybytes().decode("utf-8")).encode("cp1252"))
        return
    with pa.OSFile(str(path), "wb") as sink:
        if style.encoding == "utf-8-sig":
            sink.write(codecs.BOM_UTF8)
        sink.write(header_line.encode())
        pacsv.write_csv(table, sink, write_options=options)


def write_table(
    path: Path,
    columns: dict[str, pa.Array],
    style: FileStyle = FileStyle(),
    date_columns: Sequence[str] = (),
    rng: np.random.Generator | None = None,
) -> int:
    """Write one CSV file in the given style; returns its data rows."""
    rng = rng if rng is not None else np.random.default_rng(0)
    names = list(columns)
    arrays = list(columns.values())
    rows = len(arrays[0])
    if style.dates != "iso":
        as_dmy = np.ones(rows, dtype=bool) if style.dates == "dmy" else rng.random(rows) < 0.5
        arrays = [_dmy(a, as_dmy) if n in date_columns else a for n, a in zip(names, arrays, strict=True)]
    if style.extra_column:
        name, values = _extra_column(rng, rows, non_ascii=style.encoding == "cp1252")
        names, arrays = [*names, name], [*arrays, values]
    header = _header_variant(rng, names) if style.header_variant else names
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(path, header, arrays, style)
    return rows


def _yyyymmdd(day: int) -> str:
    return str(np.datetime64(int(day), "D")).replace("-", "")


def write_extract(landing: Path, extract: Extract, seed: int) -> list[tuple[Path, int]]:
    rng = _rng(seed, f"{extract.feed} files")
    styles = _file_styles(rng, extract.file_days.size)
    bounds = np.searchsorted(extract.file_index, np.arange(extract.file_days.size + 1))
    written = []
    for index, style in enumerate(styles):
        start, stop = int(bounds[index]), int(bounds[index + 1])
        columns = {n: a.slice(start, stop - start) for n, a in extract.columns.items()}
        path = landing / extract.feed / f"{extract.feed}_{_yyyymmdd(extract.file_days[index])}.csv"
        written.append((path, write_table(path, columns, style, extract.date_columns, rng)))
    return written


def _pcd7(postcode: pa.Array) -> pa.Array:
    """ONS 7-character form: outward code padded to four characters, no separating space."""
    parts = pc.split_pattern(postcode, " ")
    outward = pc.list_element(parts, 0)
    inward = pc.list_element(parts, 1)
    return pc.binary_join_element_wise(pc.utf8_rpad(outward, width=4, padding=" "), inward, "")


def _geojson(codes: Sequence[str], polygons: Floats) -> bytes:
    """FeatureCollection of LSOA polygons, built with Arrow string kernels."""
    points = [
        pc.binary_join_element_wise("[", _floats(polygons[:, k, 0]), ",", _floats(polygons[:, k, 1]), "]", "")
        for k in range(polygons.shape[1])
    ]
    ring = pc.binary_join_element_wise(*points, ",")
    features = pc.binary_join_element_wise(
        '{"type":"Feature","properties":{"lsoa_code":"',
        pa.array(list(codes)),
        '"},"geometry":{"type":"Polygon","coordinates":[[',
        ring,
        "]]}}",
        "",
    )
    body = ",\n".join(features.to_pylist())
    collection = (
        f'{{"type":"FeatureCollection","name":"demo_city_lsoa_boundaries","features":[\n{body}\n]}}\n'
    )
    return collection.encode()


def _floats(values: Floats) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.float64()), pa.string())


def write_reference(landing: Path, geo: Geography) -> list[tuple[Path, int]]:
    folder = landing / "reference"
    n = geo.n_lsoas
    codes = geo.lsoa_code
    written = [
        (
            folder / "postcode_lsoa.csv",
            write_table(
                folder / "postcode_lsoa.csv",
                {"postcode": _pcd7(geo.postcode), "lsoa_code": pa.array(codes[geo.postcode_lsoa])},
                FileStyle(encoding="utf-8-sig", crlf=True),
            ),
        ),
        (
            folder / "lsoa_centre.csv",
            write_table(
                folder / "lsoa_centre.csv",
                {
                    "lsoa_code": pa.array(codes[:n]),
                    "centre_code": _labels(geo.lsoa_centre, geo.centre_code),
                    "centre_name": _labels(geo.lsoa_centre, geo.centre_name),
                    "la_code": _labels(geo.lsoa_la, geo.la_code),
                    "la_name": _labels(geo.lsoa_la, geo.la_name),
                },
                FileStyle(encoding="cp1252"),
            ),
        ),
        (
            folder / "lsoa_imd.csv",
            write_table(
                folder / "lsoa_imd.csv", {"lsoa_code": pa.array(codes), "imd_decile": _ints(geo.imd_decile)}
            ),
        ),
    ]
    boundaries = folder / "lsoa_boundaries.geojson"
    boundaries.write_bytes(_geojson(codes[:n], geo.polygons))
    return [*written, (boundaries, n)]


def _marker_text(scale: Scale, seed: int) -> str:
    flags = ", ".join(f"{f.name}={getattr(scale, f.name)}" for f in fields(scale))
    return (
        "SYNTHETIC DEMO DATA - NOT REAL PEOPLE\n\n"
        "Every file in this folder was made up by cc_warehouse.demo for a fictional city\n"
        "(Demo City, local authority code E06999999, mapped onto the Dogger Bank in the\n"
        "North Sea). Postcodes, LSOA codes, centres, schools and NHS numbers are fictional:\n"
        "NHS numbers start with 9, outside the ranges issued to patients. The extracts carry\n"
        "deliberate data-quality problems, at low rates, to exercise the loader.\n\n"
        "The public demo pseudonymisation key is accepted only for a folder holding this file.\n"
        "Never copy real extracts into it.\n\n"
        f"Generator settings: seed={seed}, {flags}\n"
    )
