"""Running the whole pipeline in a temporary state folder, as `make load transform reports` does,
and writing a later extract that restates an old quarter (a revision)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cc_warehouse.ingest.csvfile import decode
from landing import MATERNITY_HEADER

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
            "CC_DBT_PROJECT_DIR": str(ROOT),
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

    def transform(self, *args: str) -> str:
        """`make transform` (cc transform) with dbt's files in this state's
        folder; returns what it printed."""
        result = self.python(
            "cc_warehouse",
            "transform",
            *args,
            DBT_TARGET_PATH=str(self.root / "target"),
            DBT_LOG_PATH=str(self.root / "logs"),
        )
        return result.stdout

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
            "cc_warehouse.build.dbt_summary", "--run-results", str(self.root / "target" / "run_results.json")
        )
        self.python("cc_warehouse", "publish")
        return result


CORRECTED_BABIES = 40


def write_correction(state: State) -> tuple[str, int]:
    """A later maternity extract correcting records of the earliest complete quarter: forty
    live babies of normal weight are re-sent with a weight of 2000 g (enough for some
    centres' restated low-birth-weight figures to be shown, not hidden). Returns the quarter and
    how many of them are placed in a centre."""
    ((quarter, start, end),) = state.query(
        """select period_label, period_start, period_end from dim_period
        where period_type = 'quarter' and is_complete order by period_start limit 1"""
    )
    chosen = state.query(
        """select b.birth_id, b.file_name from stg_maternity__births b
        where b.delivery_date between ? and ? and b.is_live_birth and b.birth_weight_grams >= 2500
        order by b.birth_id limit ?""",
        [start, end, CORRECTED_BABIES],
    )
    ((placed,),) = state.query(
        "select count(*) from int_births_placed where is_placed and birth_id in (select unnest(?))",
        [[birth_id for birth_id, _ in chosen]],
    )
    wanted = dict(chosen)
    header = MATERNITY_HEADER.split(",")
    corrected = []
    for file_name in sorted(set(wanted.values())):
        text, _ = decode((state.landing / file_name).read_bytes(), file_name)
        for raw in csv.DictReader(io.StringIO(text.decode("utf-8"))):
            row = {(name or "").strip().lower(): value for name, value in raw.items()}
            if wanted.get(row["birth_id"]) == file_name:
                row["birth_weight_grams"] = "2000"
                corrected.append([row[column] for column in header])
    assert len(corrected) == len(wanted) == CORRECTED_BABIES
    latest = max(path.name for path in (state.landing / "maternity").glob("maternity_*.csv"))
    extract = dt.datetime.strptime(latest[len("maternity_") : -4], "%Y%m%d").date() + dt.timedelta(days=1)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *corrected])
    (state.landing / "maternity" / f"maternity_{extract:%Y%m%d}.csv").write_text(buffer.getvalue())
    return quarter, placed
