"""Running the whole pipeline in a temporary state folder, as `make load transform reports` does."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class State:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "state" / "w.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "state" / "published" / "childrens_centres.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "CC_LANDING_DIR": str(self.landing),
            "CC_WAREHOUSE": str(self.warehouse),
            "CC_REPORTS_DIR": str(self.reports),
            "PYTHONPATH": str(ROOT / "scripts"),
            "DBT_PROFILES_DIR": str(ROOT),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **extra,
        }

    def run(self, *command: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            list(command), cwd=ROOT, env=self.env(**extra), capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n"
                f"{result.stderr[-3000:]}"
            )
        return result

    def python(self, module: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", module, *args, **extra)

    def dbt(self, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        return self.run(
            str(BIN / "dbt"),
            *args,
            "--target-path",
            str(self.root / "target"),
            "--log-path",
            str(self.root / "logs"),
            check=check,
            **extra,
        )

    def query(self, sql: str, params: list | None = None, published: bool = False) -> list[tuple]:
        con = duckdb.connect(str(self.published if published else self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def build(self, *dbt_args: str, **extra: str) -> subprocess.CompletedProcess:
        """dbt build, the warning summary and publish: `make transform` without freshness."""
        result = self.dbt("build", *dbt_args, **extra)
        self.python(
            "cc_warehouse.dbt_summary", "--run-results", str(self.root / "target" / "run_results.json")
        )
        self.python("cc_warehouse.publish")
        return result
