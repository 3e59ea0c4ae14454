"""The chase list is a CSV a data manager opens in a spreadsheet: no cell may run as a formula."""

from __future__ import annotations

import pandas as pd

from cc_warehouse.reports.dq_report import spreadsheet_safe


def test_formula_like_cells_are_quoted_and_others_kept():
    frame = pd.DataFrame(
        {
            "record_key": ['=HYPERLINK("http://x")', "R1", "+1", "-2", "@cmd", "\tx", None],
            "records": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["record_key"].tolist()[:6] == [
        '\'=HYPERLINK("http://x")',
        "R1",
        "'+1",
        "'-2",
        "'@cmd",
        "'\tx",
    ]
    assert pd.isna(safe["record_key"].iloc[6])
    assert safe["records"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert frame["record_key"].iloc[0].startswith("=")  # the input is left as it was
