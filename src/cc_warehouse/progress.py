"""Progress of the long steps: a bar at a terminal, plain lines otherwise.

A run at a terminal (standard error is a TTY) shows a tqdm bar over the files being loaded
and the newsletter pages being printed. A run whose output goes to a file, a pipe or a CI log
prints its usual one line per item and no bar. CC_PROGRESS=0 turns the bars off, 1 on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def enabled() -> bool:
    setting = os.environ.get("CC_PROGRESS", "")
    if setting in ("0", "1"):
        return setting == "1"
    return sys.stderr.isatty()


def bar(items: Iterable[T], description: str, unit: str, total: int | None = None) -> Iterator[T]:
    """`items`, with a bar on standard error while they are taken when bars are enabled."""
    if not enabled():
        yield from items
        return
    yield from tqdm(items, desc=description, unit=unit, total=total, file=sys.stderr, leave=False)


def echo(message: str) -> None:
    """A line on standard output that does not break a bar being drawn."""
    if enabled():
        tqdm.write(message, file=sys.stdout)
        sys.stdout.flush()
    else:
        print(message, flush=True)
