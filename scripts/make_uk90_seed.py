"""Write seeds/uk90_bmi_lms.csv: the UK90 BMI-for-age reference as L, M and S by month.

One-off: run it again only to re-derive or re-check the seed. It is not part of the runtime
package (src/cc_warehouse/) and nothing in the warehouse imports it.

Where the numbers come from
---------------------------
The British 1990 (UK90) growth reference for body mass index: Cole TJ, Freeman JV, Preece MA.
Body mass index reference curves for the UK, 1990. Arch Dis Child 1995;73:25-29; and
British 1990 growth reference centiles for weight, height, body mass index and head
circumference fitted by maximum penalized likelihood. Stat Med 1998;17:407-29. The LMS
tables are distributed by the Child Growth Foundation (as British1990.xls with LMSgrowth).

They are read here from the copy that the RCPCH's `rcpchgrowth` package ships
(`rcpchgrowth/data_tables/uk90_child.json`, "UK 1990 reference data, reanalysed 2009"),
which holds the BMI table at every calendar month from 4 to 20 years (48 to 240 months) for
each sex. The reference is monthly already, so no interpolation is done here: the values are
copied as published (L and M to 3 decimals, S to 5). The UK-WHO charts use the WHO standard
below 4 years, so this copy has no UK90 BMI values under 4; NCMP centiles need only 4-13.

rcpchgrowth is AGPL-3.0 software: it is used only by this script and by the tests, never by
the warehouse. Install it into the project venv to run this (pip install rcpchgrowth).
The seed holds only the reference's numbers; see seeds/_uk90.yml for the licence note.

Usage:
    .venv/bin/python scripts/make_uk90_seed.py [--check]

`--check` compares the existing seed with the package's table and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from importlib import resources
from pathlib import Path

SEED_PATH = Path(__file__).resolve().parents[1] / "seeds" / "uk90_bmi_lms.csv"
SEXES = {"male": "M", "female": "F"}
FIRST_MONTH, LAST_MONTH = 48, 240


def reference_rows() -> list[dict[str, object]]:
    """The UK90 BMI LMS rows from rcpchgrowth's data table, sorted by sex and age."""
    table = resources.files("rcpchgrowth") / "data_tables" / "uk90_child.json"
    reference = json.loads(table.read_text(encoding="utf-8"))
    rows: list[dict[str, object]] = []
    for sex_name, sex in SEXES.items():
        points = reference["measurement"]["bmi"][sex_name]
        months = [point["value"] for point in points]
        if any(point["interval"] != "months" for point in points) or months != list(
            range(FIRST_MONTH, LAST_MONTH + 1)
        ):
            raise ValueError(f"UK90 BMI table for {sex_name} is not one point per month 48-240")
        for point in points:
            if abs(point["decimal_age"] - point["value"] / 12) > 1e-9:
                raise ValueError(f"age in months and years disagree: {point}")
            rows.append(
                {
                    "sex": sex,
                    "age_months": point["value"],
                    "age_years": f"{point['value'] / 12:.6f}",
                    "l": point["L"],
                    "m": point["M"],
                    "s": point["S"],
                }
            )
    rows.sort(key=lambda row: (row["sex"], row["age_months"]))
    return rows


def render(rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["sex", "age_months", "age_years", "l", "m", "s"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().replace("\r\n", "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = render(reference_rows())
    if args.check:
        if SEED_PATH.read_text(encoding="utf-8") != text:
            print(f"{SEED_PATH} differs from the rcpchgrowth UK90 BMI table", file=sys.stderr)
            return 1
        print(f"{SEED_PATH} matches the rcpchgrowth UK90 BMI table")
        return 0
    SEED_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SEED_PATH} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
