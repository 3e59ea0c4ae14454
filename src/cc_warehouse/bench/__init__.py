"""`make bench PRESET=city|region|england`: the pipeline timed on a fresh state folder.

    cc bench [--preset city] [--work DIR] [--out bench] [--keep]
                                 [demo scale flags, e.g. --births-per-year 300]

Writes `<out>/results.json` and `<out>/results.md`. Every stage runs as its own process (its
wall time, and the peak resident memory of the largest process in its tree, from wait4's
rusage), in a state folder of its own (`--work`, removed afterwards unless `--keep`); the
user's warehouse is never touched. The stages, in order:

1. generate: the demo generator writes the preset's extracts; the latest extract of each
   quarterly feed (and an NCMP extract sent in that quarter) is held back as "the new quarter";
2. load_base, transform_base: the loader and `make transform` on everything else;
3. load_new_quarter, transform_new_quarter: the new quarter's extracts arrive and are built;
4. transform_full: `make transform --force` on the same data (a full rebuild);
5. transform_no_change: `make transform` again, with nothing new (it should skip);
6. publish: `cc publish` alone (transform already publishes; this
   shows its share);
7. models: `dbt run` (the models only, no tests) on the built warehouse;
8. floor: bench/floor.sql, the hand-written query computing every count of
   fct_indicator_values from the raw zone;
9. raw_scan: one scan of every column of every raw table (the physical reference);
10. load_floor: the loader's physical reference. DuckDB alone reads every CSV of the landing
    folder, pseudonymises the NHS numbers with the same HMAC-SHA256 and writes every row to
    a table, with nothing checked, typed or quarantined.

Timings on a shared machine are noisy: compare runs on the same machine, and repeat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cc_warehouse import config, demo
from cc_warehouse.bench.measure import load_floor, run_query, scan_raw
from cc_warehouse.bench.report import (
    GIB,
    commit,
    dbt_breakdown,
    dbt_elapsed,
    machine,
    render_markdown,
    targets,
    versions,
)

QUARTERLY_FEEDS = ("maternity", "health_visiting")
EXTRACT_FEEDS = ("maternity", "health_visiting", "ncmp")
FEEDS = (*EXTRACT_FEEDS, "reference")
# The whole pipeline (generate excluded): every load and a full transform.
PIPELINE_STAGES = ("load_base", "load_new_quarter", "transform_full")
EXTRACT_DATE = re.compile(r"_(\d{8})\.csv$")


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_bytes: int
    exit_code: int
    log: str

    def as_dict(self) -> dict[str, object]:
        return {
            "seconds": round(self.seconds, 3),
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_rss_gib": round(self.peak_rss_bytes / GIB, 3),
            "exit_code": self.exit_code,
        }


class BenchError(Exception):
    pass


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.landing = work / "landing"
        self.new_quarter = work / "new_quarter"
        self.warehouse = work / "state" / "childrens_centres.duckdb"
        self.logs = work / "logs"
        self.stages: dict[str, Stage] = {}

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "CC_LANDING_DIR": str(self.landing),
            "CC_WAREHOUSE": str(self.warehouse),
            "CC_REPORTS_DIR": str(self.work / "reports"),
            "DBT_TARGET_PATH": str(self.work / "target"),
            "DBT_LOG_PATH": str(self.work / "dbt-logs"),
            "DBT_PROFILES_DIR": str(config.project_dir()),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "False",
            "CC_TARGET": "duckdb",
        }
        env.pop("CC_PSEUDO_KEY", None)  # the demo city uses the public demo key
        return env

    def run(self, name: str, command: list[str], check: bool = True) -> Stage:
        """Run one stage as a child process: wall time and the peak RSS of its tree."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        print(f"bench: {name} ...", flush=True)
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=config.project_dir(), env=self.env(), stdout=out, stderr=subprocess.STDOUT
            )
            # wait4 gives the child's own rusage, which on Linux takes in the descendants it
            # waited for: ru_maxrss is the largest resident set of any process of the stage.
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        stage = Stage(name, seconds, usage.ru_maxrss * 1024, process.returncode, str(log))
        self.stages[name] = stage
        print(f"bench: {name} {seconds:.1f} s, peak {stage.peak_rss_bytes / GIB:.2f} GiB", flush=True)
        if check and stage.exit_code != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise BenchError(f"stage {name} failed (exit code {stage.exit_code}):\n{tail}")
        return stage

    def python(self, name: str, module: str, *args: str) -> Stage:
        return self.run(name, [sys.executable, "-m", module, *args])


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def hold_back_new_quarter(landing: Path, new_quarter: Path) -> list[str]:
    """Move the latest quarter's extracts out of the landing folder; returns their names.

    The new quarter is the latest extract of each quarterly feed, and an NCMP extract dated
    in the same calendar quarter as the earliest of those, if there is one.
    """
    latest = []
    for feed in QUARTERLY_FEEDS:
        files = sorted((landing / feed).glob(f"{feed}_*.csv"))
        if files:
            latest.append(files[-1])
    if not latest:
        raise BenchError(f"no quarterly extracts in {landing}")
    first = min(_extract_date(path) for path in latest)
    quarter_start = dt.date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    quarter_end = dt.date(
        quarter_start.year + quarter_start.month // 10, (quarter_start.month + 2) % 12 + 1, 1
    )
    latest += [
        path
        for path in sorted((landing / "ncmp").glob("ncmp_*.csv"))
        if quarter_start <= _extract_date(path) < quarter_end
    ]
    moved = []
    for path in latest:
        target = new_quarter / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append(f"{path.parent.name}/{path.name}")
    return moved


def _extract_date(path: Path) -> dt.date:
    match = EXTRACT_DATE.search(path.name)
    if not match:
        raise BenchError(f"not an extract name: {path}")
    return dt.datetime.strptime(match.group(1), "%Y%m%d").date()


def bring_in_new_quarter(landing: Path, new_quarter: Path) -> None:
    for path in sorted(new_quarter.rglob("*.csv")):
        shutil.move(path, landing / path.relative_to(new_quarter))


def generated_rows(landing: Path) -> int:
    """Data rows of the extracts the generator wrote (header lines excluded; none spans lines)."""
    rows = 0
    for feed in EXTRACT_FEEDS:
        for path in (landing / feed).glob(f"{feed}_*.csv"):
            with path.open("rb") as extract:
                lines = sum(block.count(b"\n") for block in iter(lambda: extract.read(1 << 24), b""))
            rows += lines - 1
    return rows


def rows_per_feed(warehouse: Path) -> dict[str, dict[str, int]]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            """select
                case when feed in ('maternity', 'health_visiting', 'ncmp') then feed
                     else 'reference' end as feed_group,
                count(*), sum(rows_read), sum(rows_accepted), sum(rows_quarantined)
            from raw.load_log group by all order by 1"""
        ).fetchall()
    finally:
        con.close()
    return {
        feed: {
            "files": files,
            "rows_read": int(read),
            "rows_accepted": int(accepted),
            "rows_quarantined": int(quarantined),
        }
        for feed, files, read, accepted, quarantined in rows
    }


def _query_seconds(log: str) -> float | None:
    match = re.search(r"query seconds: ([0-9.]+)", Path(log).read_text(encoding="utf-8", errors="replace"))
    return float(match.group(1)) if match else None


def run_bench(
    preset: str, work: Path, seed: int, scale_args: list[str], builds: bool = True, floor: bool = True
) -> dict[str, object]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    bench = Bench(work)
    started_at = dt.datetime.now(dt.UTC)
    host = machine()

    generate_args = ["--out", str(bench.landing), "--preset", preset, "--seed", str(seed), "--quiet"]
    bench.python("generate", "cc_warehouse", "demo", *generate_args, *scale_args)
    rows_generated = generated_rows(bench.landing)
    held_back = hold_back_new_quarter(bench.landing, bench.new_quarter)

    new_quarter_build: dict[str, float] = {}
    full_build: dict[str, float] = {}
    models_in_dbt = None
    skipped = None
    bench.python("load_base", "cc_warehouse", "load", "--no-validate")
    if builds:
        bench.python("transform_base", "cc_warehouse", "transform")
    bring_in_new_quarter(bench.landing, bench.new_quarter)
    bench.python("load_new_quarter", "cc_warehouse", "load", "--no-validate")
    if builds:
        bench.python("transform_new_quarter", "cc_warehouse", "transform")
        new_quarter_build = dbt_breakdown(work / "target")
        bench.python("transform_full", "cc_warehouse", "transform", "--force")
        full_build = dbt_breakdown(work / "target")
        no_change = bench.python("transform_no_change", "cc_warehouse", "transform")
        skipped = "nothing to build" in Path(no_change.log).read_text(encoding="utf-8", errors="replace")
        bench.python("publish", "cc_warehouse", "publish")
        if floor:
            bench.run("models", [dbt_executable(), "run", "--project-dir", str(config.project_dir())])
            models_in_dbt = dbt_elapsed(work / "target")
    elif floor:
        # the floor reads three code lists; without a build they are only seeded
        bench.run("seeds", [dbt_executable(), "seed", "--project-dir", str(config.project_dir())])
    if floor:
        floor_sql = config.project_dir() / "bench" / "floor.sql"
        bench.python("floor", "cc_warehouse", "bench", "--run-query", str(floor_sql), str(bench.warehouse))
    bench.python("raw_scan", "cc_warehouse", "bench", "--scan-raw", str(bench.warehouse))
    bench.python(
        "load_floor", "cc_warehouse", "bench", "--load-floor", str(bench.landing), str(work / "load_floor")
    )

    feeds = rows_per_feed(bench.warehouse)
    stages = bench.stages

    def seconds(*names: str) -> float | None:
        if not all(name in stages for name in names):
            return None
        return round(sum(stages[name].seconds for name in names), 3)

    def ratio(top: float | None, bottom: float | None) -> float | None:
        return round(top / bottom, 3) if top and bottom else None

    rows_loaded = sum(feed["rows_read"] for feed in feeds.values())
    incremental = seconds("load_new_quarter", "transform_new_quarter")
    floor_query = _query_seconds(stages["floor"].log) if "floor" in stages else None
    load_floor_log = Path(stages["load_floor"].log).read_text(encoding="utf-8", errors="replace")
    load_floor_rows = int(re.search(r"rows: (\d+)", load_floor_log).group(1))
    load_floor_query = _query_seconds(stages["load_floor"].log)
    figures = {
        "rows_generated": rows_generated,
        "generate_rows_per_second": round(rows_generated / stages["generate"].seconds, 1),
        "rows_loaded": rows_loaded,
        "load_rows_per_second": round(rows_loaded / seconds("load_base", "load_new_quarter"), 1),
        "load_floor_rows": load_floor_rows,
        "load_floor_query_seconds": load_floor_query,
        "load_floor_rows_per_second": round(load_floor_rows / load_floor_query, 1),
        "load_over_floor": ratio(seconds("load_base", "load_new_quarter"), load_floor_query),
        "pipeline_seconds": seconds(*PIPELINE_STAGES),
        "peak_memory_gib": round(
            max(s.peak_rss_bytes for n, s in stages.items() if n != "generate") / GIB, 3
        ),
        "models_seconds": seconds("models"),
        "models_dbt_elapsed_seconds": round(models_in_dbt, 3) if models_in_dbt else None,
        "floor_seconds": seconds("floor"),
        "floor_query_seconds": floor_query,
        "models_over_floor": ratio(seconds("models"), seconds("floor")),
        "models_over_floor_in_engine": ratio(models_in_dbt, floor_query),
        "incremental_seconds": incremental,
        "full_rebuild_seconds": seconds("transform_full"),
        "incremental_over_full": ratio(incremental, seconds("transform_full")),
        "transform_no_change_seconds": seconds("transform_no_change"),
        "transform_no_change_skipped": skipped,
        "raw_scan_seconds": seconds("raw_scan"),
        "raw_scan_query_seconds": _query_seconds(stages["raw_scan"].log),
        "warehouse_bytes": bench.warehouse.stat().st_size,
        "warehouse_copy_seconds": _copy_seconds(stages["transform_full"].log) if builds else None,
    }
    return {
        "preset": preset,
        "seed": seed,
        "scale": scale_args,
        "builds": builds,
        "floor": floor,
        "date": started_at.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": host,
        "git": commit(),
        "versions": versions(),
        "new_quarter_files": held_back,
        "rows_per_feed": feeds,
        "stages": {name: stage.as_dict() for name, stage in stages.items()},
        "figures": figures,
        "targets": targets(preset, figures),
        "dbt_build_seconds_by_kind": {
            "transform_new_quarter": new_quarter_build,
            "transform_full": full_build,
        },
        "notes": [
            "Wall seconds of each stage's process (start-up included); peak memory is the largest "
            "resident set of any process of the stage (wait4 rusage), not a sum over processes.",
            "The loader runs with --no-validate (Great Expectations is a report, not a load step).",
            "generate_rows_per_second = data rows of the maternity, health-visiting and NCMP "
            "extracts written / wall of the generate stage (start-up included).",
            "incremental = load_new_quarter + transform_new_quarter; full = transform_full "
            "(transform --force on the same data). pipeline = load_base + load_new_quarter + "
            "transform_full.",
            "models_over_floor = wall of `dbt run` / wall of the floor's process; "
            "models_over_floor_in_engine = dbt's elapsed_time / the floor query's time.",
            "load_floor_rows_per_second = rows DuckDB alone read, pseudonymised and wrote / its "
            "query seconds (files not in UTF-8 are converted to it beforehand, outside the "
            "time); load_over_floor = wall of both loads / the load floor's query seconds.",
            "The machine is shared: timings are noisy.",
        ],
    }


def _copy_seconds(log: str) -> float | None:
    text = Path(log).read_text(encoding="utf-8", errors="replace")
    match = re.search(r"copied the warehouse \(\d+ MB\) in ([0-9.]+) s", text)
    return float(match.group(1)) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(demo.PRESETS), default="city")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, help="scratch state folder (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=config.project_dir() / "bench", help="where results go")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--no-builds",
        action="store_true",
        help="generate, load, the floor and the raw scan only (no dbt build): a quick look at a big preset",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="leave out `dbt run` and the floor (models_over_floor): the builds of a big preset only",
    )
    parser.add_argument("--run-query", nargs=2, metavar=("SQL", "WAREHOUSE"), help=argparse.SUPPRESS)
    parser.add_argument("--scan-raw", metavar="WAREHOUSE", help=argparse.SUPPRESS)
    parser.add_argument("--load-floor", nargs=2, metavar=("LANDING", "SCRATCH"), help=argparse.SUPPRESS)
    args, scale_args = parser.parse_known_args(argv)
    if args.run_query:
        return run_query(Path(args.run_query[0]), Path(args.run_query[1]))
    if args.scan_raw:
        return scan_raw(Path(args.scan_raw))
    if args.load_floor:
        return load_floor(Path(args.load_floor[0]), Path(args.load_floor[1]))
    unknown = [
        arg
        for arg in scale_args
        if arg.startswith("--") and arg[2:].replace("-", "_") not in demo.SCALE_FLAGS
    ]
    if unknown:
        parser.error(f"unknown option(s): {' '.join(unknown)} (scale flags: {', '.join(demo.SCALE_FLAGS)})")
    work = args.work or Path(tempfile.gettempdir()) / f"cc-bench-{args.preset}"
    try:
        results = run_bench(
            args.preset, work, args.seed, scale_args, builds=not args.no_builds, floor=not args.no_floor
        )
    except BenchError as error:
        print(f"bench failed: {error}\n(the scratch folder {work} is kept for inspection)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    # the latest run, and the latest of this preset (bench/README.md quotes each preset's)
    for name in ("results", f"results-{args.preset}"):
        (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        (args.out / f"{name}.md").write_text(render_markdown(results), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(render_markdown(results))
    print(f"bench: results written to {args.out}/results.json and results.md")
    return 0
