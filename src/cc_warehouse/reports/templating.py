"""Jinja2 templates of the reports (HTML escaped by default)."""

from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(value: float | None, places: int = 1) -> str:
    return "" if value is None else f"{value:.{places}f}%"


def _thousands(value: int | float | None) -> str:
    return "" if value is None else f"{int(value):,}"


_environment.filters["pct"] = _pct
_environment.filters["thousands"] = _thousands


def render(template: str, **context) -> str:
    return _environment.get_template(template).render(**context)
