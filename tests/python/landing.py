"""Small hand-written landing folders for loader tests: every value is visible in the test."""

from __future__ import annotations

from pathlib import Path

TEST_KEY = "test-key-0123456789abcdef"

# Valid NHS numbers (Modulus 11) and one that fails the check.
NHS = ["9434765919", "9434765870", "4010232137", "9990000018"]
BAD_NHS = "9434765918"

MATERNITY_HEADER = (
    "birth_id,delivery_id,mother_nhs_number,baby_nhs_number,mother_birth_date,mother_postcode,"
    "mother_ethnic_category,delivery_date,gestation_weeks,birth_weight_grams,live_birth,"
    "delivery_method,smoking_at_delivery,breastfeeding_initiated"
)
MATERNITY_ROWS = [
    "B1,D1,9434765919,9434765870,1990-05-01,DC1 1AA,A,2024-04-10,39,3400,Y,0,N,Y",
    "B2,D2,4010232137,9990000018,12/03/2006,dc11ab,H,15/05/2024,36,2300,Y,7,Y,N",
]
HV_HEADER = (
    "review_id,child_nhs_number,child_birth_date,child_postcode,review_type,due_date,"
    "contact_date,feeding_status"
)
HV_ROWS = [
    "R1,9434765870,2024-04-10,DC1 1AA,NBV,2024-04-24,2024-04-23,TOTAL",
    "R2,9434765870,2024-04-10,DC1 1AA,6-8W,2024-06-05,,",
]
NCMP_HEADER = (
    "ncmp_id,child_nhs_number,academic_year,school_year,school_code,sex,birth_date,"
    "child_postcode,ethnic_category,measurement_date,height_cm,weight_kg,not_measured_reason"
)
NCMP_ROWS = [
    "N1,9434765919,2023/24,R,100001,F,2019-01-15,DC1 1AA,A,2024-01-20,110.2,19.4,",
    "N2,4010232137,2023/24,6,100002,M,2013-03-02,DC1 1AB,99,,,,ABSENT",
]
REFERENCE = {
    "postcode_lsoa.csv": "postcode,lsoa_code\nDC1 1AA,E01999001\nDC1 1AB,E01999002\n",
    "lsoa_centre.csv": (
        "lsoa_code,centre_code,centre_name,la_code,la_name\n"
        "E01999001,CC01,Riverside,E06999999,Demo City\n"
        "E01999002,CC02,Hillside,E06999999,Demo City\n"
    ),
    "lsoa_imd.csv": "lsoa_code,imd_decile\nE01999001,1\nE01999002,8\n",
}


def write_csv(path: Path, header: str, rows: list[str], encoding: str = "utf-8", eol: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((eol.join([header, *rows]) + eol).encode(encoding))
    return path


def write_landing(root: Path, extract: str = "20240715") -> Path:
    """A landing folder that loads without a single quarantined row or field issue."""
    write_csv(root / "maternity" / f"maternity_{extract}.csv", MATERNITY_HEADER, MATERNITY_ROWS)
    write_csv(root / "health_visiting" / f"health_visiting_{extract}.csv", HV_HEADER, HV_ROWS)
    write_csv(root / "ncmp" / f"ncmp_{extract}.csv", NCMP_HEADER, NCMP_ROWS)
    for name, text in REFERENCE.items():
        (root / "reference").mkdir(parents=True, exist_ok=True)
        (root / "reference" / name).write_text(text, encoding="utf-8")
    return root
