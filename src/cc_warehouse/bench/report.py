"""What a bench run reports: the machine, the commit, dbt's own timings, the speed targets
and the results as Markdown (bench/results-<preset>.md)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from cc_warehouse import config

GIB = 1024**3
TARGETS = {
    "pipeline_seconds": ("whole pipeline (generate excluded), england", "<=", 600.0),
    "peak_memory_gib": ("peak memory of any stage but generate", "<", 8.0),
    "models_over_floor": ("dbt models / floor", "<=", 4.0),
    "incremental_over_full": ("new quarter loaded and built / full rebuild", "<=", 0.4),
    "transform_no_change_seconds": ("no-change transform, city", "<", 15.0),
    "load_rows_per_second": ("rows loaded a second, england", ">=", 1_000_000.0),
}
TARGET_PRESET = {
    "pipeline_seconds": "england",
    "transform_no_change_seconds": "city",
    "load_rows_per_second": "england",
}


def machine() -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": model,
        "cores": usable,
        "memory_bytes": memory,
        "memory_gib": round(memory / GIB, 1) if memory else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def commit() -> dict[str, object]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=config.project_dir(), capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def versions() -> dict[str, str]:
    import importlib.metadata

    found = {}
    for package in ("duckdb", "dbt-core", "dbt-duckdb"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def dbt_elapsed(target: Path) -> float | None:
    """dbt's own execution time of its last command (its start-up and parsing left out)."""
    try:
        return float(json.loads((target / "run_results.json").read_text())["elapsed_time"])
    except (OSError, ValueError, KeyError):
        return None


def dbt_breakdown(target: Path) -> dict[str, float]:
    """Execution seconds of the last `dbt build` by kind of node (summed over dbt's threads)."""
    try:
        results = json.loads((target / "run_results.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, float] = {"elapsed": round(float(results.get("elapsed_time", 0.0)), 3)}
    for result in results.get("results", []):
        kind = result["unique_id"].split(".")[0]
        found[kind] = round(found.get(kind, 0.0) + float(result.get("execution_time", 0.0)), 3)
    return found


def targets(preset: str, figures: dict[str, object]) -> list[dict[str, object]]:
    found = []
    for key, (label, operator, limit) in TARGETS.items():
        value = figures.get(key)
        applies = TARGET_PRESET.get(key, preset) == preset
        if not isinstance(value, int | float):
            met = None
        else:
            met = {"<=": value <= limit, "<": value < limit, ">=": value >= limit}[operator]
        found.append(
            {
                "figure": key,
                "target": f"{operator} {limit:,g}" if limit < 1000 else f"{operator} {limit:,.0f}",
                "what": label,
                "value": value,
                "met": met if applies else None,
                "applies_to": TARGET_PRESET.get(key, "every preset"),
            }
        )
    return found


def render_markdown(results: dict[str, object]) -> str:
    figures = results["figures"]
    host = results["machine"]
    git = results["git"]
    lines = [
        f"# Benchmark: preset `{results['preset']}`",
        "",
        f"- date: {results['date']} (finished {results['finished']})",
        f"- commit: `{git['commit']}` on `{git['branch']}`{' (uncommitted changes)' if git['dirty'] else ''}",
        f"- machine: {host['cpu_model']}, {host['cores']} cores, {host['memory_gib']} GiB "
        f"(load average at start {host['load_average_at_start']}; shared, so timings are noisy)",
        f"- versions: {', '.join(f'{k} {v}' for k, v in results['versions'].items())}",
        "",
        "## Rows per feed",
        "",
        "| feed | files | rows read | accepted | quarantined |",
        "|---|---:|---:|---:|---:|",
    ]
    for feed, row in results["rows_per_feed"].items():
        lines.append(
            f"| {feed} | {row['files']} | {row['rows_read']:,} | {row['rows_accepted']:,} "
            f"| {row['rows_quarantined']:,} |"
        )
    lines += ["", "## Stages", "", "| stage | wall s | peak memory GiB |", "|---|---:|---:|"]
    for name, stage in results["stages"].items():
        lines.append(f"| {name} | {stage['seconds']:.1f} | {stage['peak_rss_gib']:.2f} |")
    lines += [
        "",
        "## Figures",
        "",
        "| figure | value |",
        "|---|---:|",
    ]
    for key, value in figures.items():
        lines.append(f"| {key} | {value if not isinstance(value, float) else f'{value:,.3f}'} |")
    lines += ["", "## Targets", "", "| target | figure | value | met |", "|---|---|---:|---|"]
    for target in results["targets"]:
        met = {True: "yes", False: "**no**", None: f"n/a here ({target['applies_to']})"}[target["met"]]
        if target["value"] is None:
            met = "not measured (--no-builds or --no-floor)"
        lines.append(
            f"| {target['what']} {target['target']} | {target['figure']} | {target['value']} | {met} |"
        )
    lines += ["", "## dbt build: execution seconds by kind of node (summed over threads)", ""]
    for name, kinds in results["dbt_build_seconds_by_kind"].items():
        lines.append(f"- {name}: " + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in kinds.items()))
    lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"
