"""A small demo city, loaded and built once per test session, for the reliability tests.

Every test works in the same folder (`work/`), restored from a pristine copy first: the build
copy then always has the same path, so dbt's partial parsing (keyed on the profile, which
names that path) stays warm across tests, sharing one target folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cc_warehouse.ingest.csvfile import decode
from pipeline import State

# A key that appears nowhere else, so any copy of it in an output is a leak.
SECRET_KEY = "reliability-secret-7f3c9a1e5b2d4860"
# Models and seeds only: what the fault tests need, in a fraction of a full build's time.
MODELS_ONLY = tuple(f"--exclude-resource-type={kind}" for kind in ("unit_test", "test", "seed"))
CITY_ARGS = ("--seed", "11", "--births-per-year", "600", "--centres", "3", "--lsoas", "15", "--years", "2")


@dataclass(frozen=True)
class City:
    root: Path  # the session's folder

    @property
    def work(self) -> State:
        return State(self.root / "work")

    @property
    def pristine(self) -> Path:
        return self.root / "pristine"

    @property
    def built(self) -> State:
        """The city as built, for tests that only read it (never write here)."""
        return State(self.pristine)

    @property
    def outputs(self) -> Path:
        """stdout and stderr of every command the fixture ran (scanned for identifiers)."""
        return self.root / "outputs"

    def env(self) -> dict[str, str]:
        return {
            "CC_PSEUDO_KEY": SECRET_KEY,
            "DBT_TARGET_PATH": str(self.root / "target"),
            "DBT_LOG_PATH": str(self.root / "logs"),
            "CC_LOCK_TIMEOUT": "120",
        }

    def restore(self, source: Path | None = None) -> State:
        """Put `source` (default: the pristine copy) back in the working folder."""
        work = self.root / "work"
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(source or self.pristine, work, symlinks=True)
        return self.work

    def save(self, name: str) -> Path:
        target = self.root / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.root / "work", target, symlinks=True)
        return target

    def run(self, *command: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        result = self.work.run(*command, check=check, **{**self.env(), **extra})
        self.outputs.mkdir(exist_ok=True)
        name = f"{time.monotonic_ns()}.txt"
        (self.outputs / name).write_text(result.stdout + "\n" + result.stderr, encoding="utf-8")
        return result

    def python(
        self, module: str, *args: str, check: bool = True, **extra: str
    ) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", module, *args, check=check, **extra)

    def transform(self, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        return self.python("cc_warehouse", "transform", *args, check=check, **extra)


def build_city(root: Path) -> City:
    """The demo city as `make build` makes it: demo, load with Great Expectations, transform,
    reports and newsletters (conftest.py's session_city)."""
    built = City(root)
    state = built.work
    built.python("cc_warehouse", "demo", "--out", str(state.landing), *CITY_ARGS, "--quiet")
    built.python("cc_warehouse", "load")
    built.transform("--exclude-resource-type", "unit_test", "--no-freshness")
    built.python("cc_warehouse", "reports")
    built.python("cc_warehouse", "newsletter", "--no-pdf", "--no-maps")
    shutil.copytree(state.root, built.pristine, symlinks=True)
    return built


# ---------------------------------------------------------------- comparing states


def fingerprint(state: State) -> dict[str, str]:
    """Bytes of the live warehouse and of the published version, and which version that is."""
    found = {"warehouse": _sha(state.warehouse)}
    published = state.warehouse.parent / "published"
    found["published ->"] = os.readlink(published) if published.is_symlink() else "(folder)"
    for path in sorted(published.resolve().rglob("*")):
        if path.is_file():
            found[str(path.relative_to(published.resolve()))] = _sha(path)
    found["wal"] = str(state.warehouse.with_name(state.warehouse.name + ".wal").exists())
    return found


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contents(database: Path) -> dict[str, list[tuple]]:
    """Every table of every schema, rows sorted; build timestamps left out (they differ by run)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute(
            """select table_schema, table_name from information_schema.tables
            where table_type = 'BASE TABLE' order by 1, 2"""
        ).fetchall()
        found = {}
        for schema, table in tables:
            columns = con.execute(
                """select column_name, data_type from information_schema.columns
                where table_schema = ? and table_name = ? order by ordinal_position""",
                [schema, table],
            ).fetchall()
            kept = [f'"{c}"' for c, kind in columns if not kind.startswith("TIMESTAMP")]
            # a table of timestamps only (a stored test failure of one) is compared by its size
            selected = ", ".join(kept) or "count(*)"
            rows = con.execute(f'select {selected} from "{schema}"."{table}"').fetchall()
            found[f"{schema}.{table}"] = sorted(rows, key=repr)
        return found
    finally:
        con.close()


# ---------------------------------------------------------------- what the landing folder holds


def landing_rows(landing: Path) -> dict[str, list[dict[str, str]]]:
    """Every data row of every extract, by feed, as the contract's column names."""
    rows: dict[str, list[dict[str, str]]] = {}
    for path in sorted(landing.glob("*/*.csv")):
        text, _ = decode(path.read_bytes(), path.name)
        reader = csv.DictReader(io.StringIO(text.decode("utf-8")))
        for row in reader:
            rows.setdefault(path.parent.name, []).append(
                {(k or "").strip().lower(): (v or "") for k, v in row.items() if k}
            )
    return rows


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-3000:]
