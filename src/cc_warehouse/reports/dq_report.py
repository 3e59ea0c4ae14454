"""The data-quality report for data managers: which returns to chase, where, and for which records.

Reads the published marts (never the live warehouse) and writes
    <reports>/data_quality/index.html         the report
    <reports>/data_quality/chase_list.csv     latest period's records missing an item
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import pandas as pd

from cc_warehouse.reports.charts import completeness_trend_svg
from cc_warehouse.reports.templating import render

STATUS_ORDER = {"below_minimum": 0, "below_target": 1, "meets_target": 2}


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def gather(published_db: Path) -> dict:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        completeness = _frame(
            con,
            """select c.*, i.description, i.display_order, a.area_name
            from fct_return_completeness c
            join dim_data_quality_item i using (item_id)
            left join dim_area a on a.area_type = c.area_type and a.area_code = c.area_code""",
        )
        files = _frame(con, "select * from fct_load_files order by feed, extract_date, file_name")
        issues = _frame(con, "select * from fct_load_issues order by rows_affected desc, file_name, reason")
        chase = _frame(
            con,
            """select c.*, a.area_name as centre_name from fct_chase_list c
            left join dim_area a on a.area_type = 'centre' and a.area_code = c.centre_code
            order by c.feed, c.centre_code, c.item_id, c.record_key""",
        )
    finally:
        con.close()
    return {"completeness": completeness, "files": files, "issues": issues, "chase": chase}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet will not run as formulas: a leading = + - @ tab or CR gets a quote."""
    safe = frame.copy()
    for column in safe.columns:
        text = safe[column]
        if text.dtype == object or pd.api.types.is_string_dtype(text):
            risky = text.fillna("").astype(str).str.startswith(FORMULA_START)
            safe[column] = text.where(~risky, "'" + text.fillna("").astype(str))
    return safe


def latest_gaps(completeness: pd.DataFrame) -> pd.DataFrame:
    """Centre rows of each feed's latest period below target, the worst gap first."""
    centres = completeness[completeness["area_type"] == "centre"]
    latest = centres.groupby("feed")["period_start"].transform("max")
    current = centres[centres["period_start"] == latest]
    gaps = current[current["status"] != "meets_target"].copy()
    gaps["shortfall"] = gaps["expected"] - gaps["recorded"]
    return gaps.sort_values(["completeness_pct", "shortfall"], ascending=[True, False])


def item_trends(completeness: pd.DataFrame) -> list[dict]:
    """Per item: the whole-area trend as a chart and a headline, and a centre-by-period table."""
    trends = []
    for (feed, item_id), rows in completeness.groupby(["feed", "item_id"], sort=False):
        area_rows = rows[rows["area_type"].isin(["la", "all"])].sort_values("period_start")
        if area_rows.empty:
            continue
        city = (
            area_rows.groupby(["period_label", "period_start"], as_index=False)[["expected", "recorded"]]
            .sum()
            .sort_values("period_start")
        )
        city["completeness_pct"] = 100 * city["recorded"] / city["expected"]
        first, last = city.iloc[0], city.iloc[-1]
        centres = rows[rows["area_type"] == "centre"]
        periods = list(city["period_label"])[-8:]
        grid = centres[centres["period_label"].isin(periods)].pivot_table(
            index=["area_code", "area_name"],
            columns="period_label",
            values="completeness_pct",
            aggfunc="first",
        )
        grid = grid.reindex(columns=periods)
        trends.append(
            {
                "feed": feed,
                "item_id": item_id,
                "description": rows["description"].iloc[0],
                "display_order": int(rows["display_order"].iloc[0]),
                "target_pct": float(rows["target_pct"].iloc[0]),
                "minimum_pct": float(rows["minimum_pct"].iloc[0]),
                "first_label": first["period_label"],
                "first_pct": float(first["completeness_pct"]),
                "last_label": last["period_label"],
                "last_pct": float(last["completeness_pct"]),
                "change_points": round(last["completeness_pct"]) - round(first["completeness_pct"]),
                "svg": completeness_trend_svg(
                    list(city["period_label"]),
                    list(city["completeness_pct"]),
                    float(rows["target_pct"].iloc[0]),
                    float(rows["minimum_pct"].iloc[0]),
                    title=rows["description"].iloc[0],
                ),
                "periods": periods,
                "grid": [
                    {"code": code, "name": name, "values": [None if pd.isna(v) else float(v) for v in values]}
                    for (code, name), values in zip(grid.index, grid.to_numpy(), strict=True)
                ],
            }
        )
    return sorted(trends, key=lambda t: t["display_order"])


def write_report(published_db: Path, reports_dir: Path) -> Path:
    data = gather(published_db)
    out = reports_dir / "data_quality"
    out.mkdir(parents=True, exist_ok=True)
    chase = data["chase"]
    chase_columns = [
        "feed",
        "period_label",
        "la_code",
        "centre_code",
        "centre_name",
        "record_key",
        "item_id",
        "missing_item",
    ]
    buffer = io.StringIO()
    spreadsheet_safe(chase[chase_columns]).to_csv(buffer, index=False)
    (out / "chase_list.csv").write_text(buffer.getvalue(), encoding="utf-8")
    chase_by_centre = (
        chase.groupby(["feed", "period_label", "centre_code", "centre_name", "missing_item"], dropna=False)
        .size()
        .reset_index(name="records")
        .sort_values(["records"], ascending=False)
    )
    files = data["files"]
    docs_index = reports_dir / "data_docs" / "index.html"
    html = render(
        "data_quality.html.j2",
        generated=dt.datetime.now().strftime("%d %B %Y %H:%M"),
        gaps=latest_gaps(data["completeness"]).to_dict("records"),
        trends=item_trends(data["completeness"]),
        files=files.to_dict("records"),
        totals={
            "files": len(files),
            "read": int(files["rows_read"].sum()),
            "accepted": int(files["rows_accepted"].sum()),
            "quarantined": int(files["rows_quarantined"].sum()),
            "field_issues": int(files["field_issues"].sum()),
            "ge_failed": int((files["ge_success"] == False).sum()),  # noqa: E712 (NULL is not a failure)
        },
        issues=data["issues"].to_dict("records"),
        chase_by_centre=chase_by_centre.to_dict("records"),
        chase_rows=len(chase),
        data_docs_link="../data_docs/index.html" if docs_index.exists() else None,
    )
    path = out / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
