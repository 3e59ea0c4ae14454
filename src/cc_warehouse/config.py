"""Where things are: every path and setting comes from the environment, with working defaults.

One variable, CC_WAREHOUSE, moves the whole state: everything the pipeline writes besides the
reports (raw zone, published copies, locks, scratch space) lives in the folder that holds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_FILE = "dbt_project.yml"

# The demo generator writes this marker into the landing folder it creates. The demo key is
# accepted only for a landing folder that carries it, so real extracts can never be
# pseudonymised with a key that is public in this repository.
DEMO_MARKER = "SYNTHETIC_DEMO_DATA.txt"
DEMO_MARKER_FIRST_LINE = "SYNTHETIC DEMO DATA - NOT REAL PEOPLE"  # as the generator writes it
DEMO_PSEUDO_KEY = "demo-key-not-for-real-data"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse: Path
    reports_dir: Path
    pseudo_key: str | None
    target: str
    # how many times the transform may hide more counts and build the public marts again
    # before a disclosure audit that still fails stops publishing (disclosure_audit.protect)
    audit_rounds: int = 5

    @property
    def state_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def published_dir(self) -> Path:
        return self.state_dir / "published"

    @property
    def published_versions_dir(self) -> Path:
        return self.state_dir / "published.versions"

    @property
    def build_dir(self) -> Path:
        return self.state_dir / "build"

    @property
    def scratch_dir(self) -> Path:
        return self.state_dir / "tmp"


def sql_string(value: object) -> str:
    """`value` as an SQL string literal, for the statements that take no parameter where it
    goes (COPY ... TO a path): a path may hold a quote (`/data/children's centres/`)."""
    return "'" + str(value).replace("'", "''") + "'"


def _path(name: str, default: str) -> Path:
    value = os.environ.get(name) or default
    path = Path(value)
    return path if path.is_absolute() else (Path.cwd() / path)


def project_dir() -> Path:
    """The dbt project folder: CC_DBT_PROJECT_DIR, or else the working folder or the nearest
    folder above it that holds dbt_project.yml (as git finds its repository)."""
    named = os.environ.get("CC_DBT_PROJECT_DIR")
    if named:
        path = Path(named).resolve()
        if not (path / PROJECT_FILE).is_file():
            raise SystemExit(f"CC_DBT_PROJECT_DIR={named}: no {PROJECT_FILE} there")
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise SystemExit(
        f"no dbt project here: run from the project folder (the one with {PROJECT_FILE}) "
        "or set CC_DBT_PROJECT_DIR"
    )


def settings() -> Settings:
    return Settings(
        landing_dir=_path("CC_LANDING_DIR", "data/landing"),
        warehouse=_path("CC_WAREHOUSE", "warehouse/childrens_centres.duckdb"),
        reports_dir=_path("CC_REPORTS_DIR", "reports"),
        pseudo_key=os.environ.get("CC_PSEUDO_KEY") or None,
        target=os.environ.get("CC_TARGET") or "duckdb",
        audit_rounds=int(os.environ.get("CC_AUDIT_ROUNDS") or 5),
    )


def duckdb_config(memory_limit: str = "7GB") -> dict[str, str]:
    """Settings for a 2-core, 24 GiB machine shared with other work; each can be overridden.

    Two threads use both cores; 7 GB (the loader asks for less by default) keeps a whole
    dbt build under 8 GiB at England scale (DuckDB at its limit plus dbt's own 0.7 GiB) and
    leaves room for other processes on the machine (DuckDB spills to its temp directory
    beyond it). Insertion order is not kept: nothing reads the raw zone in file order
    (source_row says where a row came from), and keeping it costs memory and parallelism.
    The temp directory defaults to DuckDB's own, `<database>.tmp` beside the database file,
    inside the state folder.
    """
    settings = {
        "threads": os.environ.get("CC_DUCKDB_THREADS") or "2",
        "memory_limit": os.environ.get("CC_DUCKDB_MEMORY_LIMIT") or memory_limit,
        "preserve_insertion_order": os.environ.get("CC_DUCKDB_PRESERVE_ORDER") or "false",
    }
    temp_dir = os.environ.get("CC_DUCKDB_TEMP_DIR")
    if temp_dir:
        settings["temp_directory"] = temp_dir
    return settings
