"""Charts as inline SVG (matplotlib), with a text alternative beside each."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

INK = "#1b1b1b"
MUTED = "#595959"
ACCENT = "#005eb8"  # NHS blue
WARN = "#b35900"
ALERT = "#b00020"


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG sits inside HTML


def completeness_trend_svg(
    labels: list[str], values: list[float], target: float, minimum: float, title: str
) -> str:
    figure, axis = plt.subplots(figsize=(6.4, 2.4), dpi=100)
    positions = list(range(len(labels)))
    axis.axhspan(0, minimum, color=ALERT, alpha=0.06, linewidth=0)
    axis.axhline(target, color=INK, linewidth=1, linestyle="--")
    axis.axhline(minimum, color=ALERT, linewidth=1, linestyle=":")
    axis.plot(positions, values, color=ACCENT, linewidth=2, marker="o", markersize=3)
    axis.set_ylim(max(0, min([*values, minimum]) - 10), 100)
    step = max(1, len(labels) // 6)
    axis.set_xticks(positions[::step], [labels[i] for i in positions[::step]], fontsize=8, color=MUTED)
    axis.tick_params(axis="y", labelsize=8, colors=MUTED)
    axis.set_ylabel("% recorded", fontsize=8, color=MUTED)
    axis.text(positions[-1], target + 1, f"target {target:g}%", fontsize=7, ha="right", color=INK)
    axis.spines[["top", "right"]].set_visible(False)
    axis.set_title(title, fontsize=9, loc="left", color=INK)
    return _svg(figure)
