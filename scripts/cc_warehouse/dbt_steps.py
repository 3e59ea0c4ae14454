"""dbt commands one after another in one process, so that dbt starts up once, not once each.

    python -m cc_warehouse.dbt_steps CODES_JSON -- build --select x -- source freshness --quiet

Each command, between `--` separators, is run by dbt's programmatic runner as `dbt <command>`
would run it, and only if the one before it succeeded. Its exit code (dbt's: 0 success,
1 failure, 2 error) is added to the JSON list in CODES_JSON as soon as it ends, and it prints
how long it took (`dbt build: 68.1 s`). The process exits with the last code.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def commands(words: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    for word in words:
        if word == "--":
            groups.append([])
        elif groups:
            groups[-1].append(word)
        else:
            raise SystemExit(f"expected `--` before the first command, not {word!r}")
    return [group for group in groups if group]


def label(command: list[str]) -> str:
    """The command's words before its first option: `build`, `source freshness`."""
    words = []
    for word in command:
        if word.startswith("-"):
            break
        words.append(word)
    return "dbt " + " ".join(words)


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner  # imported here: the start-up this module shares

    codes_file = Path(argv[0])
    codes: list[int] = []
    codes_file.write_text("[]")
    runner = dbtRunner()
    for command in commands(argv[1:]):
        started = time.perf_counter()
        result = runner.invoke(command)
        code = 0 if result.success else 2 if result.exception is not None else 1
        if result.exception is not None:
            print(f"{label(command)}: {result.exception}", file=sys.stderr, flush=True)
        codes.append(code)
        codes_file.write_text(json.dumps(codes))
        print(f"{label(command)}: {time.perf_counter() - started:.1f} s", flush=True)
        if code != 0:
            break
    return codes[-1] if codes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
