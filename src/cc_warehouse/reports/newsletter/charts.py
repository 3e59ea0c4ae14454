"""The newsletter's charts and maps as inline SVG (matplotlib), each with a text alternative.

Every SVG gets its own id prefix, so that many charts can sit in one HTML page without two
elements sharing an id. Text stays text (svg.fonttype none): smaller files, sharp in print.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, PathPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from cc_warehouse.reports.charts import ACCENT, INK, MUTED  # noqa: E402

CITY = "#4c4c4c"
BAND = "#9cc3e6"
# Comparison colours: blue / orange are told apart by people with colour-blind vision; the
# marker shape and the text say the same thing, so colour is never the only signal.
STATUS_STYLE = {
    "better": {"color": "#005eb8", "marker": "^", "label": "better than the city"},
    "worse": {"color": "#c55a11", "marker": "v", "label": "worse than the city"},
    "higher": {"color": "#005eb8", "marker": "^", "label": "higher than the city"},
    "lower": {"color": "#c55a11", "marker": "v", "label": "lower than the city"},
    "similar": {"color": "#8c8c8c", "marker": "o", "label": "similar to the city"},
    "not compared": {"color": "#ffffff", "marker": "o", "label": "no figure or not compared"},
}
MAP_FILL = {
    "better": "#6aa6dc",
    "higher": "#6aa6dc",
    "worse": "#f0a873",
    "lower": "#f0a873",
    "similar": "#e6e6e6",
    "not compared": "#ffffff",
}

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "cc-newsletter",
    "font.family": "DejaVu Sans",
    "font.size": 8,
}


def _svg(figure, prefix: str) -> str:
    # Layouts are fixed by hand (no bbox_inches="tight"), which draws each figure once, not twice.
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # one id namespace per chart: ids and the references to them get the chart's prefix
    text = re.sub(r'(\bid="|url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    # the wrapper element carries the text alternative; the drawing itself is decoration
    return text.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


def _percent_axis(axis, low: float, high: float) -> None:
    span = max(high - low, 4.0)
    bottom = max(0.0, low - span * 0.25)
    top = min(100.0, high + span * 0.25)
    axis.set_ylim(bottom, top)
    axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}%"))
    axis.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4, integer=True))
    axis.tick_params(axis="both", labelsize=8, colors=MUTED, length=2)
    axis.spines[["top", "right"]].set_visible(False)
    axis.spines[["left", "bottom"]].set_color("#b1b4b6")


def trend_svg(
    prefix: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    lowers: Sequence[float | None],
    uppers: Sequence[float | None],
    city: Sequence[float | None],
) -> str:
    """The area's recent values with their 95% band, and the city's line."""
    with plt.rc_context(_RC):
        figure = plt.figure(figsize=(3.9, 2.1), dpi=100)
        axis = figure.add_axes((0.13, 0.2, 0.85, 0.62))
        x = list(range(len(labels)))
        nan = float("nan")

        def clean(series: Sequence[float | None]) -> list[float]:
            return [nan if v is None else float(v) for v in series]

        area, low, high, city_line = clean(values), clean(lowers), clean(uppers), clean(city)
        axis.fill_between(x, low, high, color=BAND, alpha=0.55, linewidth=0, label="95% range")
        axis.plot(x, city_line, color=CITY, linewidth=1.4, linestyle="--", label="city")
        axis.plot(x, area, color=ACCENT, linewidth=2.2, marker="o", markersize=3.5, label="this area")
        # a point with no neighbour has no band to sit in: its range is drawn as a bar
        for i, value in enumerate(area):
            before = area[i - 1] if i > 0 else nan
            after = area[i + 1] if i + 1 < len(area) else nan
            if not math.isnan(value) and math.isnan(before) and math.isnan(after):
                axis.plot([i, i], [low[i], high[i]], color=BAND, linewidth=5, solid_capstyle="butt", zorder=1)
        seen = [v for v in [*area, *low, *high, *city_line] if not math.isnan(v)]
        _percent_axis(axis, min(seen, default=0.0), max(seen, default=100.0))
        axis.set_xlim(-0.3, len(labels) - 0.7)
        axis.set_xticks(x, list(labels))
        axis.legend(
            loc="lower left",
            bbox_to_anchor=(-0.02, 1.01),
            ncols=3,
            frameon=False,
            fontsize=8,
            handlelength=1.6,
            columnspacing=1.0,
            labelcolor=INK,
        )
        return _svg(figure, prefix)


@dataclass(frozen=True)
class RankedArea:
    code: str
    name: str
    value: float | None
    lower: float | None
    upper: float | None
    status: str


def ranking_svg(prefix: str, areas: Sequence[RankedArea], city_value: float | None) -> str:
    """Every centre's value and 95% interval, highest first, against the city's value."""
    shown = sorted((a for a in areas if a.value is not None), key=lambda a: (-a.value, a.name))
    hidden = sorted((a for a in areas if a.value is None), key=lambda a: a.name)
    ordered = [*shown, *hidden]
    with plt.rc_context(_RC):
        height = 0.75 + 0.24 * len(ordered)
        figure = plt.figure(figsize=(4.2, height), dpi=100)
        left = min(0.5, 0.1 + 0.062 * max((len(a.name) for a in ordered), default=4) / 4.2)
        axis = figure.add_axes((left, 0.35 / height, 0.94 - left, 1 - 0.75 / height))
        for row, area in enumerate(ordered):
            y = len(ordered) - 1 - row
            if area.value is None:
                axis.text(
                    0.01,
                    y,
                    "*",
                    va="center",
                    ha="left",
                    fontsize=9,
                    color=INK,
                    transform=axis.get_yaxis_transform(),
                )
                continue
            style = STATUS_STYLE.get(area.status, STATUS_STYLE["not compared"])
            if area.lower is not None and area.upper is not None:
                axis.plot([area.lower, area.upper], [y, y], color="#6f777b", linewidth=1.2)
            axis.plot(
                [area.value],
                [y],
                marker=style["marker"],
                markersize=6,
                color=style["color"],
                markeredgecolor=INK,
                markeredgewidth=0.6,
                linestyle="none",
            )
        if city_value is not None:
            axis.axvline(city_value, color=CITY, linestyle="--", linewidth=1.2)
        axis.set_yticks(range(len(ordered)), [a.name for a in reversed(ordered)], fontsize=8, color=INK)
        axis.set_ylim(-0.7, len(ordered) - 0.3)
        limits = [v for a in shown for v in (a.lower, a.upper, a.value) if v is not None]
        if city_value is not None:
            limits.append(city_value)
        low, high = min(limits, default=0.0), max(limits, default=100.0)
        span = max(high - low, 4.0)
        axis.set_xlim(max(0.0, low - span * 0.1), min(100.0, high + span * 0.1))
        axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}%"))
        axis.tick_params(axis="x", labelsize=8, colors=MUTED, length=2)
        axis.tick_params(axis="y", length=0)
        axis.spines[["top", "right", "left"]].set_visible(False)
        axis.spines["bottom"].set_color("#b1b4b6")
        statuses = list(dict.fromkeys(a.status for a in shown))
        handles = [
            Line2D(
                [],
                [],
                marker=STATUS_STYLE[s]["marker"],
                color=STATUS_STYLE[s]["color"],
                markeredgecolor=INK,
                markeredgewidth=0.6,
                linestyle="none",
                label=s,
            )
            for s in ("better", "higher", "similar", "worse", "lower")
            if s in statuses
        ]
        if city_value is not None:
            handles.append(Line2D([], [], color=CITY, linestyle="--", label="city"))
        axis.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(-left / (0.94 - left) * 0.9, 1.0),
            ncols=4,
            handletextpad=0.3,
            columnspacing=0.9,
            frameon=False,
            fontsize=8,
        )
        return _svg(figure, prefix)


# ---------------------------------------------------------------- maps


def _patches(geometry, **style) -> list[PathPatch]:
    polygons = geometry.geoms if geometry.geom_type == "MultiPolygon" else [geometry]
    patches = []
    for polygon in polygons:
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        vertices: list[tuple[float, float]] = []
        codes: list[int] = []
        for ring in [polygon.exterior, *polygon.interiors]:
            points = list(ring.coords)
            vertices.extend(points)
            codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 2) + [MplPath.CLOSEPOLY])
        patches.append(PathPatch(MplPath(vertices, codes), **style))
    return patches


def _map_axis(figure_width: float, city, legend_space: float = 0.0):
    minx, miny, maxx, maxy = city.bounds
    # degrees of longitude shrink with latitude; projected metres (British National Grid) do not
    geographic = minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90
    aspect = 1 / math.cos(math.radians((miny + maxy) / 2)) if geographic else 1.0
    ratio = (maxy - miny) * aspect / max(maxx - minx, 1e-9)
    map_height = max(1.6, min(figure_width * ratio, 5.0))
    height = map_height + legend_space
    figure = plt.figure(figsize=(figure_width, height), dpi=100)
    axis = figure.add_axes((0.01, legend_space / height, 0.98, map_height / height))
    axis.set_aspect(aspect)
    pad_x, pad_y = (maxx - minx) * 0.03, (maxy - miny) * 0.03
    axis.set_xlim(minx - pad_x, maxx + pad_x)
    axis.set_ylim(miny - pad_y, maxy + pad_y)
    axis.set_axis_off()
    return figure, axis


def centre_map_svg(prefix: str, city, centres: dict, highlight: str) -> str:
    """The city's centre areas in outline, this centre's area filled."""
    with plt.rc_context(_RC):
        figure, axis = _map_axis(3.0, city)
        for code, shape in centres.items():
            filled = code == highlight
            for patch in _patches(
                shape,
                facecolor=ACCENT if filled else "#f3f2f1",
                edgecolor="#ffffff" if filled else "#6f777b",
                linewidth=0.8,
                zorder=2 if filled else 1,
            ):
                axis.add_patch(patch)
        for patch in _patches(city, facecolor="none", edgecolor=INK, linewidth=1.2, zorder=3):
            axis.add_patch(patch)
        return _svg(figure, prefix)


def comparison_map_svg(prefix: str, city, centres: dict, statuses: dict[str, str], labels: dict) -> str:
    """Every centre area shaded by its comparison with the city, labelled with its number."""
    with plt.rc_context(_RC):
        figure, axis = _map_axis(3.4, city, legend_space=0.45)
        for code, shape in centres.items():
            status = statuses.get(code, "not compared")
            for patch in _patches(
                shape,
                facecolor=MAP_FILL.get(status, "#ffffff"),
                edgecolor="#505a5f",
                linewidth=0.7,
                hatch="///" if status == "not compared" else None,
            ):
                axis.add_patch(patch)
            point = shape.representative_point()
            axis.text(
                point.x, point.y, labels.get(code, code), ha="center", va="center", fontsize=7, color=INK
            )
        for patch in _patches(city, facecolor="none", edgecolor=INK, linewidth=1.2):
            axis.add_patch(patch)
        present = list(dict.fromkeys(statuses.get(code, "not compared") for code in centres))
        handles = [
            Patch(
                facecolor=MAP_FILL[s],
                edgecolor="#505a5f",
                hatch="///" if s == "not compared" else None,
                label=STATUS_STYLE[s]["label"],
            )
            for s in ("better", "higher", "similar", "worse", "lower", "not compared")
            if s in present
        ]
        axis.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(0, 0), ncols=2, frameon=False, fontsize=7.5
        )
        return _svg(figure, prefix)
