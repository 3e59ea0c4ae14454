"""dbt commands one after another in one process, so that dbt starts up once, not once each.

    python -m cc_warehouse.build.dbt_steps CODES_JSON -- build --select x -- source freshness --quiet

Each command, between `--` separators, is run by dbt's programmatic runner as `dbt <command>`
would run it, and only if the one before it succeeded. Its exit code (dbt's: 0 success,
1 failure, 2 error) is added to the JSON list in CODES_JSON as soon as it ends, and it prints
how long it took (`dbt build: 68.1 s`). The process exits with the last code.

`run` starts such a process from the transform (transform.py, spark.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cc_warehouse import config
from cc_warehouse.state import files

# `dbt source freshness` as the transforms run it after the build, and what they say when a
# source's check fails (a stale feed only warns, and dbt still succeeds)
FRESHNESS = ["source", "freshness", "--quiet"]
STALE = "source freshness: a feed is older than allowed (see above)"


@contextlib.contextmanager
def merged_run_results(target_path: Path):
    """dbt commands run inside add their nodes' results to the run_results.json already in
    `target_path` (a node run again replaces its earlier result), rather than replace the
    file: it stays the record of the whole transform (the audit's rebuild of the public
    marts comes after the build)."""
    path = target_path / "run_results.json"
    before = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    yield
    if before is None or not path.exists():
        return
    after = json.loads(path.read_text(encoding="utf-8"))
    again = {result["unique_id"] for result in after["results"]}
    before["results"] = [r for r in before["results"] if r["unique_id"] not in again] + after["results"]
    path.write_text(json.dumps(before), encoding="utf-8")


def _die_with_parent() -> None:
    """In the dbt child: be killed when the transform dies, so no orphan keeps writing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def build_then_freshness(dbt_args: list[str], freshness: bool) -> list[list[str]]:
    """`dbt build` with these options and then, if asked, the freshness check."""
    return [["build", *dbt_args], *([FRESHNESS] if freshness else [])]


def stale(codes: list[int | None]) -> bool:
    """Whether a command after the build (the freshness check) ran and failed."""
    return any(code not in (0, None) for code in codes[1:])


def run(commands: list[list[str]], env: dict[str, str]) -> list[int | None]:
    """Run dbt `commands` on this project in turn in one child process, each only after the one
    before it succeeded: the exit code of each, None for one not run, and the negative signal
    number for the one it was running if the child was killed. The child has this process's
    environment with `env` on top (DBT_PROFILES_DIR, when unset, is the project's) and dies with
    this process. OSError: the child could not be started."""
    root = config.project_dir()
    env = {**os.environ, **env}
    env["DBT_PROFILES_DIR"] = env.get("DBT_PROFILES_DIR") or str(root)
    project = ["--project-dir", str(root)]
    steps = [word for command in commands for word in ("--", *command, *project)]
    with tempfile.TemporaryDirectory(prefix="cc-dbt-") as scratch:
        codes_file = Path(scratch) / "codes.json"
        result = subprocess.run(
            [sys.executable, "-m", "cc_warehouse.build.dbt_steps", str(codes_file), *steps],
            cwd=root,
            env=env,
            preexec_fn=_die_with_parent,
        )
        try:
            codes: list[int | None] = json.loads(codes_file.read_text())
        except OSError:
            codes = []  # killed before it wrote the file
    if result.returncode != 0 and (not codes or codes[-1] == 0):
        codes.append(result.returncode)  # stopped before it could write the code of the command it ran
    return codes + [None] * (len(commands) - len(codes))


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
    files.write_atomically(codes_file, json.dumps(codes))  # a kill never leaves half a list
    runner = dbtRunner()
    for command in commands(argv[1:]):
        started = time.perf_counter()
        result = runner.invoke(command)
        code = 0 if result.success else 2 if result.exception is not None else 1
        if result.exception is not None:
            print(f"{label(command)}: {result.exception}", file=sys.stderr, flush=True)
        codes.append(code)
        files.write_atomically(codes_file, json.dumps(codes))
        print(f"{label(command)}: {time.perf_counter() - started:.1f} s", flush=True)
        if code != 0:
            break
    return codes[-1] if codes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
