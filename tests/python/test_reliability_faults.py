"""Faults: a build killed anywhere, two writers at once, readers holding files open, a full
disk or an unwritable folder. The warehouse and the published copies are never half-written,
and a restatement of an old quarter reaches the marts and is marked as a revision.

The builds here run models and seeds only (MODELS_ONLY): the commit protocol does not depend
on which nodes dbt runs, and the full build is exercised by the session's city.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cc_warehouse import config
from cc_warehouse.reports import newsletter
from cc_warehouse.state import atomic
from html_tree import parse
from pipeline import CORRECTED_BABIES, ROOT, State, write_correction
from reliability import MODELS_ONLY, City, contents, fingerprint, no_traceback

TINY = ("--select", "fct_load_files")  # one model: the commit protocol around a quick dbt run


@pytest.fixture(scope="module")
def restated(session_city: City) -> dict:
    """S1: the city plus a correction extract, loaded; then a clean build of S1 (C)."""
    state = session_city.restore()
    quarter, placed = write_correction(state)
    session_city.python("cc_warehouse", "load", "--no-validate")
    s1 = session_city.save("s1")
    started = time.monotonic()
    session_city.transform("--no-freshness", *MODELS_ONLY)
    seconds = time.monotonic() - started
    clean = session_city.save("clean")
    return {
        "quarter": quarter,
        "placed": placed,
        "s1": s1,
        "clean": clean,
        "clean_contents": contents(State(clean).warehouse),
        "clean_published": contents(State(clean).published),
        "build_seconds": seconds,
    }


# ---------------------------------------------------------------- restatement


def test_a_correction_restates_its_quarter_and_is_marked_revised(session_city, restated):
    before = State(session_city.pristine)
    after = State(restated["clean"])
    sql = """select numerator, denominator from fct_indicator_values
        where indicator_id = 'low_birth_weight_all' and area_type = 'la' and breakdown = 'all'
          and period_type = 'quarter' and period_label = ?"""
    ((old_numerator, old_denominator),) = before.query(sql, [restated["quarter"]])
    ((new_numerator, new_denominator),) = after.query(sql, [restated["quarter"]])
    assert restated["placed"] > 0
    assert new_numerator == old_numerator + restated["placed"]
    assert new_denominator == old_denominator
    # The revision is recorded with the figure it replaced, and flagged for the newsletter.
    revised = after.query(
        """select period_type, period_label, previous_numerator, numerator from fct_indicator_revisions
        where indicator_id = 'low_birth_weight_all' and area_type = 'la' and breakdown = 'all'
          and is_revised"""
    )
    assert ("quarter", restated["quarter"], old_numerator, new_numerator) in revised
    # Only figures whose period contains the corrected quarter are revised.
    ((start, end),) = after.query(
        "select period_start, period_end from dim_period where period_label = ?", [restated["quarter"]]
    )
    stray = after.query(
        """select r.indicator_id, r.period_label from fct_indicator_revisions r
        join dim_period p using (period_type, period_label)
        where r.is_revised and (p.period_end < ? or p.period_start > ?)""",
        [start, end],
    )
    assert stray == []
    assert (
        after.query("select count(*) from fct_indicator_revisions where is_revised", published=True)[0][0] > 0
    )
    assert before.query("select count(*) from fct_indicator_revisions where is_revised") == [(0,)]


def test_the_newsletter_marks_revised_figures_with_the_earlier_figure(session_city, restated):
    """The newsletter of a quarter whose rolling year holds the corrected quarter marks the
    restated figures "Revised" with the figure they replaced, and marks nothing else."""
    state = session_city.restore(restated["clean"])
    revisions = state.query(
        """select indicator_id, area_code, period_label, previous_value_pct
        from pub_indicator_revisions
        where area_type = 'centre' and period_type = 'rolling_12m' and breakdown = 'all'
        order by period_label, indicator_id, area_code""",
        published=True,
    )
    assert revisions, "the correction should restate some centres' rolling years"
    # the latest edition with a revised figure that is shown (disclosure control hides many)
    ((rolling,),) = state.query(
        """select max(r.period_label) from pub_indicator_revisions as r
        join pub_indicator_values as v
            using (indicator_id, area_type, area_code, period_type, period_label, breakdown)
        where r.area_type = 'centre' and r.period_type = 'rolling_12m' and r.breakdown = 'all'
            and not v.is_suppressed and not v.low_coverage""",
        published=True,
    )
    assert rolling, "some restated figure should be shown"
    edition = rolling.removeprefix("12 months to ")
    session_city.python("cc_warehouse", "newsletter", "--period", edition, "--no-pdf", "--no-maps")
    folder = state.reports / "newsletters" / newsletter.period_slug(edition)
    expected = {(i, c): previous for i, c, label, previous in revisions if label == rolling}
    centres = [code for (code,) in state.query("select area_code from dim_area where area_type = 'centre'")]
    marked = set()
    for code in centres:
        page = parse((folder / f"{newsletter.file_stem(code)}.html").read_text(encoding="utf-8"))
        for card in page.find_all("article", cls="indicator"):
            key = (card.attrs["data-indicator"], code)
            if card.attrs["data-revised"] != "true":
                continue
            marked.add(key)
            (note,) = card.find_all(cls="revised")
            previous = expected[key]
            if previous is None:
                assert "data-earlier" not in note.attrs
            else:
                assert note.attrs["data-earlier"] == f"{previous:.0f}%"
                assert f"It was {previous:.0f}% before." in note.text()
    # every revised figure that is shown is marked; no other figure is
    shown = {
        (indicator, code)
        for indicator, code in expected
        if not state.query(
            """select is_suppressed or low_coverage from pub_indicator_values
            where indicator_id = ? and area_code = ? and period_label = ? and breakdown = 'all'""",
            [indicator, code, rolling],
            published=True,
        )[0][0]
    }
    assert marked == shown and marked


# ---------------------------------------------------------------- killed builds


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def _start_transform(session_city: City, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cc_warehouse", "transform", "--no-freshness", *args],
        cwd=ROOT,
        env=session_city.work.env(**session_city.env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_dbt(process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = _children(process.pid)
        if children:
            return children[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("dbt did not start")


def test_power_cut_during_dbt_build_leaves_everything_as_it_was(session_city, restated):
    state = session_city.restore(restated["s1"])
    before = fingerprint(state)
    moment = random.Random().uniform(0.5, max(1.0, 0.5 * restated["build_seconds"]))
    process = _start_transform(session_city, *MODELS_ONLY)
    _wait_for_dbt(process)
    time.sleep(moment)
    assert process.poll() is None, f"the build ended before the kill at {moment:.1f} s"
    os.killpg(process.pid, signal.SIGKILL)  # the transform and dbt together
    process.communicate()
    assert fingerprint(state) == before, f"killed {moment:.1f} s into dbt build"
    # Re-running completes, and gives what a clean run gives.
    session_city.transform("--no-freshness", *MODELS_ONLY)
    assert contents(state.warehouse) == restated["clean_contents"]
    assert contents(state.published) == restated["clean_published"]


def test_dbt_killed_alone_fails_the_build_cleanly(session_city, restated):
    state = session_city.restore(restated["s1"])
    before = fingerprint(state)
    process = _start_transform(session_city, *MODELS_ONLY)
    dbt_pid = _wait_for_dbt(process)
    time.sleep(random.Random().uniform(0.5, max(1.0, 0.4 * restated["build_seconds"])))
    os.kill(dbt_pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "dbt build was killed (signal 9)" in stderr and "unchanged" in stderr
    assert "Traceback" not in stderr
    assert fingerprint(state) == before


@pytest.mark.parametrize(
    "point", ["transform:after_copy", "transform:after_dbt", "publish:during", "transform:after_publish"]
)
def test_killed_before_the_commit_changes_nothing(session_city, restated, point):
    state = session_city.restore(restated["s1"])
    before = fingerprint(state)
    result = session_city.transform("--no-freshness", *TINY, check=False, CC_FAULT_KILL_AT=point)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert fingerprint(state) == before
    if point != "transform:after_publish":
        return
    # Killed with the most scratch left behind (a build copy, an unpublished version): the
    # next build clears it and succeeds, with the extract loaded before it now in the marts.
    session_city.transform("--no-freshness", *TINY)
    pristine = _files_loaded(State(session_city.pristine))
    assert _files_loaded(state) == _files_loaded(state, published=True) == pristine + 1
    assert not (state.warehouse.parent / "build" / state.warehouse.name).exists()
    versions = sorted(p.name for p in (state.warehouse.parent / "published.versions").iterdir())
    assert len(versions) == 2 and before["published ->"].rsplit("/", 1)[1] in versions  # new and previous


def _files_loaded(state: State, published: bool = False) -> int:
    return state.query("select count(*) from fct_load_files", published=published)[0][0]


@pytest.mark.parametrize("point", ["transform:after_journal", "transform:after_rename"])
def test_killed_during_the_commit_is_finished_by_the_next_command(session_city, restated, point):
    state = session_city.restore(restated["s1"])
    ((loaded_before,),) = state.query("select count(*) from fct_load_files", published=True)
    result = session_city.transform("--no-freshness", *TINY, check=False, CC_FAULT_KILL_AT=point)
    assert result.returncode == -signal.SIGKILL
    journal = state.warehouse.parent / "build" / "commit.json"
    assert journal.exists()
    # Readers still see one complete published version: the old one.
    assert state.query("select count(*) from fct_load_files", published=True) == [(loaded_before,)]
    # The next command to take the lock (here a load with nothing new) finishes the commit.
    session_city.python("cc_warehouse", "load", "--no-validate")
    assert not journal.exists()
    ((loaded_after,),) = state.query("select count(*) from fct_load_files", published=True)
    assert loaded_after == loaded_before + 1  # the correction extract, now in the marts
    assert state.query("select count(*) from fct_load_files") == [(loaded_after,)]


def test_killed_publish_leaves_the_published_copies_as_they_were(session_city):
    state = session_city.restore()
    before = fingerprint(state)
    for point in ("publish:during", "publish:after_stage"):
        result = session_city.python("cc_warehouse", "publish", check=False, CC_FAULT_KILL_AT=point)
        assert result.returncode == -signal.SIGKILL
        assert fingerprint(state) == before, point
    session_city.python("cc_warehouse", "publish")
    assert fingerprint(state)["warehouse"] == before["warehouse"]
    assert contents(state.published) == contents(State(session_city.pristine).published)


# ---------------------------------------------------------------- two writers, and readers


def _first_line_with(stream, word: str) -> str:
    for line in stream:
        if word in line:
            return line
    return ""


def test_a_second_writer_waits_for_the_lock_or_stops_with_a_message(session_city, tmp_path):
    state = session_city.restore()
    settings = config.Settings(state.landing, state.warehouse, state.reports, None, "duckdb")
    before = fingerprint(state)
    with atomic.pipeline_lock(settings, "a test holding the lock"):
        result = session_city.python(
            "cc_warehouse", "load", "--no-validate", check=False, CC_LOCK_TIMEOUT="1"
        )
        assert result.returncode == 1
        assert (
            "is busy: `a test holding the lock`" in result.stderr and "Nothing was changed" in result.stderr
        )
        no_traceback(result)
        result = session_city.transform("--no-freshness", check=False, CC_LOCK_TIMEOUT="0")
        assert result.returncode == 1 and "is busy" in result.stderr
        result = session_city.python("cc_warehouse", "publish", check=False, CC_LOCK_TIMEOUT="0")
        assert result.returncode == 1 and "is busy" in result.stderr
    assert fingerprint(state) == before
    # Two loads at once: the second waits for the first; the new extract is loaded once.
    write_correction(state)
    env = state.env(**{**session_city.env(), "CC_LOCK_TIMEOUT": "120"})
    with atomic.pipeline_lock(settings, "a test holding the lock"):
        loads = [
            subprocess.Popen(
                [sys.executable, "-m", "cc_warehouse", "load", "--no-validate"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        for load in loads:  # both wait while the lock is held
            assert "waiting for `a test holding the lock`" in _first_line_with(load.stderr, "waiting")
            assert load.poll() is None
    outputs = [load.communicate(timeout=120) for load in loads]
    assert [load.returncode for load in loads] == [0, 0], outputs
    assert sorted("1 file(s) loaded" in out for out, _ in outputs) == [False, True]
    newest = "(select max(file_name) from raw.load_log where feed = 'maternity')"
    rows = state.query(
        f"select count(*), count(distinct birth_id) from raw.maternity where file_name = {newest}"
    )
    assert rows == [(CORRECTED_BABIES, CORRECTED_BABIES)]  # loaded once, not twice


def test_a_load_during_a_build_and_readers_holding_the_published_files(session_city):
    state = session_city.restore()
    pristine = State(session_city.pristine)
    write_correction(state)
    session_city.python("cc_warehouse", "load", "--no-validate")  # in the warehouse, not yet published
    ((files_before,),) = state.query("select count(*) from fct_load_files", published=True)
    # A BI tool: a read-only DuckDB connection and an open Parquet file, held throughout.
    parquet = state.published.parent / "parquet" / "fct_load_files" / "fct_load_files.parquet"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, pyarrow.parquet as pq\n"
            f"con = duckdb.connect({str(state.published)!r}, read_only=True)\n"
            f"handle = pq.ParquetFile({str(parquet)!r})\n"
            "before = con.execute('select count(*) from fct_load_files').fetchone()[0]\n"
            "print('open', flush=True)\n"
            "sys.stdin.readline()\n"
            "after = con.execute('select count(*) from fct_load_files').fetchone()[0]\n"
            "print(before, after, handle.read().num_rows, flush=True)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "open"
    build = _start_transform(session_city, *TINY)
    _wait_for_dbt(build)
    # A second extract arrives while dbt runs: its load waits for the build to commit.
    write_correction(state)
    load = session_city.python("cc_warehouse", "load", "--no-validate", CC_LOCK_TIMEOUT="300")
    assert "waiting for `transform`" in load.stderr
    _, err = build.communicate(timeout=300)
    assert build.returncode == 0, err
    # The build published the first extract; its rename did not lose the second.
    assert state.query("select count(*) from fct_load_files", published=True) == [(files_before + 1,)]
    maternity_files = "select count(*) from raw.load_log where feed = 'maternity'"
    assert state.query(maternity_files)[0][0] == pristine.query(maternity_files)[0][0] + 2
    # The reader kept its complete old version, unblocked, and never broke the build.
    reader.stdin.write("\n")
    reader.stdin.flush()
    before, after, parquet_rows = map(int, reader.stdout.readline().split())
    reader.wait(timeout=30)
    assert before == after == parquet_rows == files_before


# ---------------------------------------------------------------- full disk, unwritable folders


def _mount_tmpfs(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill the disk here: {result.stderr.strip()}")


def _umount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_fails_a_build_or_a_load_cleanly(session_city):
    state = session_city.restore()
    folder = state.warehouse.parent
    saved = session_city.root / "state-saved"
    if saved.exists():
        subprocess.run(["rm", "-rf", str(saved)], check=True)
    os.rename(folder, saved)
    size = saved.joinpath(state.warehouse.name).stat().st_size
    published = sum(p.stat().st_size for p in saved.joinpath("published.versions").rglob("*") if p.is_file())
    # Room for the warehouse and the published copies, not for a second copy of the warehouse.
    _mount_tmpfs(folder, f"{(size + published) // 1024 + size // 2048 + 512}k")
    try:
        subprocess.run(["cp", "-a", f"{saved}/.", str(folder)], check=True)
        before = fingerprint(state)
        result = session_city.transform("--no-freshness", *TINY, check=False)
        assert result.returncode == 1
        assert "cannot copy the warehouse" in result.stderr and "No space left on device" in result.stderr
        no_traceback(result)
        assert fingerprint(state) == before
        # A load that fills the disk: DuckDB cannot write, the load stops, nothing changes.
        filler = folder / "filler"
        with open(filler, "wb") as handle, contextlib.suppress(OSError):
            while True:  # until the disk is full
                handle.write(b"\0" * 65536)
                handle.flush()
        write_correction(state)
        result = session_city.python("cc_warehouse", "load", "--no-validate", check=False)
        assert result.returncode == 1, result.stdout
        assert "load failed, nothing was committed" in result.stderr
        no_traceback(result)
        filler.unlink()
        assert fingerprint(state) == before
    finally:
        _umount(folder)
        folder.rmdir()
        os.rename(saved, folder)


def test_unwritable_output_folders_fail_cleanly_before_any_change(session_city):
    state = session_city.restore()
    before = fingerprint(state)
    blocker = session_city.root / "work" / "a-file"
    blocker.write_text("not a folder")
    nowhere = str(blocker / "reports")  # ENOTDIR: root can write anywhere, but not under a file
    write_correction(state)
    for command in (
        (
            "cc_warehouse",
            "load",
        ),
        ("cc_warehouse", "transform", "--no-freshness"),
    ):
        result = session_city.python(*command, check=False, CC_REPORTS_DIR=nowhere)
        assert result.returncode == 1, command
        assert "cannot write the reports folder" in result.stderr and "Not a directory" in result.stderr
        no_traceback(result)
        assert fingerprint(state) == before
    # The state folder itself under a file: every command says so.
    for command in ("load", "transform", "publish"):
        result = session_city.python(
            "cc_warehouse", command, check=False, CC_WAREHOUSE=str(blocker / "state" / "w.duckdb")
        )
        assert result.returncode == 1 and "Not a directory" in result.stderr, (command, result.stderr)
        no_traceback(result)
    # The published versions folder unusable: publishing fails, the copies in use stay.
    versions = state.warehouse.parent / "published.versions"
    os.rename(versions, versions.with_name("versions-saved"))
    versions.write_text("in the way")
    try:
        result = session_city.python("cc_warehouse", "publish", check=False)
        assert result.returncode == 1 and "publish failed" in result.stderr
        no_traceback(result)
    finally:
        versions.unlink()
        os.rename(versions.with_name("versions-saved"), versions)
    assert fingerprint(state) == before


def test_a_state_folder_with_a_quote_in_its_path_builds_publishes_and_exports(session_city, tmp_path):
    """Issue 24: a path holding an apostrophe (`/data/children's centres/`) was pasted into
    SQL and failed every publish. The build, the publish, the public CSV and the export for
    Spark all take it."""
    state = session_city.restore()
    quoted = State(tmp_path / "children's centres")
    shutil.copytree(state.root, quoted.root, symlinks=True)
    env = session_city.env()
    quoted.python("cc_warehouse", "transform", "--force", "--no-freshness", *TINY, **env)
    assert quoted.query("select count(*) from fct_load_files", published=True)[0][0] > 0
    quoted.python("cc_warehouse", "newsletter", "--no-pdf", "--no-maps", **env)
    assert (quoted.reports / "public" / "pub_indicator_values.csv").stat().st_size > 0
    exported = quoted.python("cc_warehouse", "spark", "export-raw", **env)
    assert "raw zone exported for Spark" in exported.stdout
    assert (quoted.warehouse.parent / "raw_parquet" / "maternity" / "part-00000.parquet").is_file()
