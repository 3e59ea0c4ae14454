"""After `dbt build`: the run's warnings and failures in one short table a person can read.

Reads dbt's target/run_results.json (and the stored failures in the audit schema, for the
first few areas and periods a warning names) and prints one line per test that did not
pass. The same table is written as CSV beside the other data-quality outputs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import duckdb

from cc_warehouse import config

SHOWN_ROWS = 3


def results(run_results: Path) -> list[dict]:
    data = json.loads(run_results.read_text(encoding="utf-8"))
    found = []
    for result in data.get("results", []):
        unique_id = result.get("unique_id", "")
        if result.get("status") not in ("warn", "fail", "error"):
            continue
        found.append(
            {
                "status": result["status"],
                # test.<project>.<name>.<hash>: the name is what a person recognises
                "node": unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id,
                "rows": result.get("failures") or 0,
                "relation": result.get("relation_name"),
                "message": (result.get("message") or "").splitlines()[0][:200],
            }
        )
    return sorted(found, key=lambda r: ({"error": 0, "fail": 1, "warn": 2}[r["status"]], -r["rows"]))


def examples(con: duckdb.DuckDBPyConnection | None, relation: str | None) -> str:
    """The first few failing rows, in words: 'CC03 2024/25 Q2 (62.0%)', for example."""
    if con is None or not relation:
        return ""
    try:
        names = [row[0] for row in con.execute(f"describe {relation}").fetchall()]
        worst_first = " order by completeness_pct" if "completeness_pct" in names else ""
        frame = con.execute(f"select * from {relation}{worst_first} limit {SHOWN_ROWS}").df()
    except duckdb.Error:
        return ""
    wanted = [
        c
        for c in ("item_id", "area_code", "period_label", "completeness_pct", "n_records")
        if c in frame.columns
    ]
    columns = wanted or list(frame.columns[:3])
    return "; ".join(" ".join(str(row[c]) for c in columns) for _, row in frame.iterrows())


def summarise(run_results: Path, warehouse: Path, out_csv: Path | None) -> list[dict]:
    rows = results(run_results)
    con = None
    if rows and warehouse.exists():
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.Error:
            con = None
    try:
        for row in rows:
            row["examples"] = examples(con, row["relation"])
    finally:
        if con is not None:
            con.close()
    if out_csv is not None:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        with out_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=["status", "node", "rows", "examples", "relation", "message"]
            )
            writer.writeheader()
            writer.writerows(rows)
    return rows


def render(rows: list[dict]) -> str:
    if not rows:
        return "dbt build: every test passed, no warnings."
    header = f"{'status':<6}  {'rows':>6}  {'test':<60}  first rows stored"
    lines = [f"dbt build: {len(rows)} test(s) did not pass", header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row['status']:<6}  {row['rows']:>6}  {row['node'][:60]:<60}  {row['examples'][:120]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-results",
        type=Path,
        default=config.project_dir() / "target" / "run_results.json",
        help="dbt's run_results.json (default: target/run_results.json)",
    )
    run_results = parser.parse_args(argv).run_results
    settings = config.settings()
    if not run_results.exists():
        print("no dbt run results found (run `make transform` first)", file=sys.stderr)
        return 1
    rows = summarise(
        run_results, settings.warehouse, settings.reports_dir / "data_quality" / "dbt_test_warnings.csv"
    )
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
