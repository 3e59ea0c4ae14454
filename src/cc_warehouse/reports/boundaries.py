"""Children's centre areas as shapes, for maps: LSOA polygons dissolved with shapely.

The published copy holds one polygon per LSOA with its centre (dim_lsoa_boundary); SQL has
no portable polygon union, so each centre's outline (and the city's) is dissolved here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import duckdb
from shapely import make_valid, unary_union
from shapely.geometry import shape


@dataclass(frozen=True)
class CityShapes:
    la_code: str
    city: object  # shapely geometry: the union of the city's centre areas
    centres: dict[str, object]  # centre_code -> shapely geometry


def load(con: duckdb.DuckDBPyConnection) -> dict[str, CityShapes]:
    """Dissolved centre and city shapes per local authority; empty without a boundary file."""
    rows = con.execute(
        "select la_code, centre_code, geometry_geojson from dim_lsoa_boundary order by la_code, centre_code"
    ).fetchall()
    parts: dict[str, dict[str, list]] = {}
    for la_code, centre_code, geometry in rows:
        polygon = make_valid(shape(json.loads(geometry)))
        parts.setdefault(la_code, {}).setdefault(centre_code, []).append(polygon)
    cities = {}
    for la_code, centres in parts.items():
        tolerance = _tolerance([polygon for polygons in centres.values() for polygon in polygons])
        dissolved = {code: dissolve(polygons, tolerance) for code, polygons in centres.items()}
        cities[la_code] = CityShapes(la_code, dissolve(list(dissolved.values()), tolerance), dissolved)
    return cities


# Gaps and slivers narrower than this share of a city's extent are closed when LSOAs are
# dissolved: real boundary files leave gaps of a fraction of a metre between neighbours,
# which a plain union keeps as specks of holes (1e-4 of a 10 km city is 1 m).
GAP_SHARE = 1e-4


def _tolerance(polygons: list) -> float:
    minx, miny, maxx, maxy = unary_union(polygons).bounds
    return GAP_SHARE * max(maxx - minx, maxy - miny)


def dissolve(polygons: list, tolerance: float):
    """The union of `polygons`, with gaps narrower than twice `tolerance` between them closed
    (a morphological closing: grown, united, shrunk back), so that neighbours meet."""
    if tolerance <= 0:
        return unary_union(polygons)
    grown = unary_union([polygon.buffer(tolerance, join_style="mitre") for polygon in polygons])
    return make_valid(grown.buffer(-tolerance, join_style="mitre"))


_COMPASS = ["east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east"]


def whereabouts(city, area) -> str:
    """Where an area lies in its city, in words: 'in the north-west of the city'."""
    minx, miny, maxx, maxy = city.bounds
    geographic = minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90
    shrink = math.cos(math.radians((miny + maxy) / 2)) if geographic else 1.0
    middle, point = city.centroid, area.representative_point()
    dx, dy = (point.x - middle.x) * shrink, point.y - middle.y
    size = max((maxx - minx) * shrink, maxy - miny, 1e-9)
    if math.hypot(dx, dy) < 0.12 * size:
        return "in the middle of the city"
    sector = round(math.degrees(math.atan2(dy, dx)) / 45) % 8
    return f"in the {_COMPASS[sector]} of the city"
