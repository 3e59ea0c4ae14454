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
        dissolved = {code: unary_union(polygons) for code, polygons in centres.items()}
        cities[la_code] = CityShapes(la_code, unary_union(list(dissolved.values())), dissolved)
    return cities


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
