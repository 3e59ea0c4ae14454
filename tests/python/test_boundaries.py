"""Centre outlines from LSOA polygons (cc_warehouse.boundaries), as real boundary files draw.

Neighbouring LSOAs in real ONS files do not quite meet: they leave gaps of a fraction of a
metre, which a plain union keeps as holes and slivers (issue 24: specks on the maps).
"""

from __future__ import annotations

import re

from shapely import unary_union
from shapely.geometry import box

from cc_warehouse.reports import boundaries
from cc_warehouse.reports.newsletter import charts as newsletter_charts

# two 1 km LSOAs side by side in British National Grid metres, 0.2 m apart
LEFT = box(530000, 180000, 531000, 181000)
RIGHT = box(531000.2, 180000, 532000, 181000)
# and three meeting round a tiny triangle none of them covers
TOP = box(530000, 181000.1, 532000, 182000)


def test_a_plain_union_keeps_the_gaps():
    assert unary_union([LEFT, RIGHT]).geom_type == "MultiPolygon"


def test_neighbours_a_fraction_of_a_metre_apart_dissolve_into_one_shape_without_specks():
    polygons = [LEFT, RIGHT, TOP]
    outline = boundaries.dissolve(polygons, boundaries._tolerance(polygons))
    assert outline.geom_type == "Polygon"
    assert len(outline.interiors) == 0
    assert outline.bounds == (530000, 180000, 532000, 182000)
    assert abs(outline.area - 4_000_000) < 1  # the gaps filled, nothing else added


def test_a_real_hole_and_a_real_gap_are_kept():
    # a 200 m lake no LSOA covers, and a 300 m wide valley between two areas
    holed = box(530000, 180000, 533000, 181000).difference(box(531400, 180400, 531600, 180600))
    far = box(533300, 180000, 534000, 181000)
    outline = boundaries.dissolve([holed, far], boundaries._tolerance([holed, far]))
    assert outline.geom_type == "MultiPolygon" and len(outline.geoms) == 2
    assert sum(len(part.interiors) for part in outline.geoms) == 1
    assert abs(outline.area - (holed.area + far.area)) < 1


def test_geographic_coordinates_scale_the_tolerance_too():
    # the same gap in degrees (about 0.2 m at 51.5 N)
    west = box(-0.10, 51.50, -0.09, 51.51)
    east = box(-0.0899997, 51.50, -0.08, 51.51)
    outline = boundaries.dissolve([west, east], boundaries._tolerance([west, east]))
    assert outline.geom_type == "Polygon" and len(outline.interiors) == 0


def test_a_map_draws_in_british_national_grid_as_in_degrees():
    # issue 24: ONS files come in both; the map keeps the shape's proportions in each
    for left, right in (
        (LEFT, RIGHT),
        (box(-0.10, 51.50, -0.09, 51.51), box(-0.0899997, 51.50, -0.08, 51.51)),
    ):
        centres = {"CC01": left, "CC02": right}
        city = boundaries.dissolve([left, right], boundaries._tolerance([left, right]))
        svg = newsletter_charts.centre_map_svg("t", city, centres, "CC01")
        assert svg.lstrip().startswith("<svg") and len(re.findall(r"<path", svg)) >= 2
