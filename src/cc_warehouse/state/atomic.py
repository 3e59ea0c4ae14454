"""One writer at a time, and a build committed all at once or not at all.

Every command that writes the state folder (load, transform, publish) first takes an
exclusive lock on `<state>/pipeline.lock` (fcntl: the kernel releases it when the process
dies, however it dies). A second command waits for it, up to CC_LOCK_TIMEOUT seconds
(default 300), then stops with a message naming the command that holds it.

A build writes a copy of the warehouse (`<state>/build/<name>.duckdb`) and a new published
version (`<state>/published.versions/<version>/`); neither is seen by anyone until the commit:

1. the journal `<state>/build/commit.json` is written (a complete file, renamed into place);
2. the copy is renamed over the live warehouse;
3. the `published` link is switched to the new version;
4. the journal is removed.

A process killed before step 1 leaves everything as it was (the next build clears the
scratch files); killed after it, the next command to take the lock finishes steps 2-4 first
(`recover`), so no reader and no load ever sees half a build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cc_warehouse import config
from cc_warehouse.state import activation
from cc_warehouse.state.files import StateError, fsync_path, write_atomically

LOCK_FILE = "pipeline.lock"
JOURNAL = "commit.json"
DEFAULT_LOCK_TIMEOUT = 300.0

_held: dict[str, int] = {}  # lock files this process holds, with their nesting depth


def kill_point(name: str) -> None:
    """Fault injection for the reliability tests: die here as a power cut would.

    CC_FAULT_KILL_AT names the point (e.g. `transform:after_dbt`); unset in normal runs.
    """
    if os.environ.get("CC_FAULT_KILL_AT") == name:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def lock_timeout() -> float:
    value = os.environ.get("CC_LOCK_TIMEOUT")
    if not value:
        return DEFAULT_LOCK_TIMEOUT
    try:
        return max(float(value), 0.0)
    except ValueError:
        raise StateError(f"CC_LOCK_TIMEOUT must be a number of seconds, not {value!r}") from None


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"`{info['command']}` (process {info['pid']}, started {info['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another load, build or publish"


@contextlib.contextmanager
def pipeline_lock(settings: config.Settings, command: str) -> Iterator[None]:
    """Hold the state folder's lock for the block; re-entrant within one process."""
    path = settings.state_dir / LOCK_FILE
    key = str(path.absolute())
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise StateError(
            f"cannot use the state folder {settings.state_dir}: {error.strerror or error}"
        ) from None
    try:
        timeout = lock_timeout()
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise StateError(
                        f"the warehouse {settings.warehouse} is busy: {holder} is still running "
                        f"after {timeout:g} s. Nothing was changed; run again when it has "
                        "finished (CC_LOCK_TIMEOUT sets how long to wait)."
                    ) from None
                if not announced:
                    print(
                        f"waiting for {holder} to finish (up to {timeout:g} s)", file=sys.stderr, flush=True
                    )
                    announced = True
                time.sleep(0.2)
        info = {
            "command": command,
            "pid": os.getpid(),
            "started": dt.datetime.now().isoformat(" ", "seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock


def holds_lock(settings: config.Settings) -> bool:
    return str((settings.state_dir / LOCK_FILE).absolute()) in _held


# ---------------------------------------------------------------- the commit


def journal_path(settings: config.Settings) -> Path:
    return settings.build_dir / JOURNAL


def commit(settings: config.Settings, build_copy: Path, version: Path) -> None:
    """Make the built copy the live warehouse and `version` the published one, together."""
    wal = settings.warehouse.with_name(settings.warehouse.name + ".wal")
    if wal.exists() or build_copy.with_name(build_copy.name + ".wal").exists():
        # A write-ahead log belongs to the file beside it; renaming past one would lose it.
        raise StateError(f"{wal} (or the build's) exists: a writer did not finish; nothing was committed")
    journal = journal_path(settings)
    write_atomically(
        journal,
        json.dumps(
            {
                "warehouse": str(build_copy),
                "published_version": version.name,
                "written": dt.datetime.now().isoformat(" ", "seconds"),
            }
        ),
    )
    kill_point("transform:after_journal")
    _finish(settings, journal)


def _finish(settings: config.Settings, journal: Path) -> None:
    entry = json.loads(journal.read_text(encoding="utf-8"))
    build_copy = Path(entry["warehouse"])
    if build_copy.exists():
        os.replace(build_copy, settings.warehouse)
        fsync_path(settings.warehouse.parent)
    kill_point("transform:after_rename")
    activation.activate(settings, settings.published_versions_dir / entry["published_version"])
    journal.unlink()
    fsync_path(journal.parent)


def recover(settings: config.Settings) -> bool:
    """Finish a commit that a killed build began; True when there was one. Needs the lock."""
    journal = journal_path(settings)
    if not journal.exists():
        return False
    try:
        _finish(settings, journal)
    except (OSError, ValueError, KeyError, StateError) as error:
        raise StateError(
            f"an interrupted build could not be committed ({journal}): {error}. "
            "Remove that file to abandon the build."
        ) from None
    print("finished committing a build that was interrupted", flush=True)
    return True
