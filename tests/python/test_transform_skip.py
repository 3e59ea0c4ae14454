"""`make transform` with nothing to do: no load and no project change since the last build.

It says so and leaves everything as it is; any load, any change to a project file or to a
setting the project reads, and `--force`, build again.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cc_warehouse import config
from cc_warehouse.build import transform
from pipeline import ROOT, State
from reliability import fingerprint

FAST = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test", "--no-freshness")
SKIPPED = "nothing to build"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[State, Path]:
    state = State(tmp_path_factory.mktemp("skip"))
    state.python(
        "cc_warehouse", "demo",
        "--out", str(state.landing), "--seed", "3", "--births-per-year", "300",
        "--centres", "2", "--lsoas", "10", "--years", "2", "--quiet",
    )  # fmt: skip
    latest = sorted((state.landing / "maternity").glob("maternity_*.csv"))[-1]
    held_back = state.root / latest.name
    shutil.move(latest, held_back)
    state.python("cc_warehouse", "load", "--no-validate")
    return state, held_back


def run_transform(state: State, *args: str) -> str:
    return state.transform(*FAST, *args)


def test_a_second_transform_skips_and_a_load_or_force_rebuilds(city: tuple[State, Path]) -> None:
    state, held_back = city
    assert SKIPPED not in run_transform(state)
    before = fingerprint(state)

    assert SKIPPED in run_transform(state)
    assert fingerprint(state) == before  # not a byte of the warehouse or the published files

    assert SKIPPED not in run_transform(state, "--force")
    assert fingerprint(state) != before
    assert SKIPPED in run_transform(state)

    shutil.move(held_back, state.landing / "maternity" / held_back.name)
    state.python("cc_warehouse", "load", "--no-validate")
    rebuilt = run_transform(state)
    assert SKIPPED not in rebuilt and "built and published" in rebuilt
    files = state.query(
        "select count(*) from main.fct_load_files where file_name like ?", [f"%{held_back.name}"]
    )
    assert files == [(1,)]
    assert SKIPPED in run_transform(state)


def test_other_dbt_options_rebuild(city: tuple[State, Path]) -> None:
    state, _ = city
    run_transform(state)
    assert SKIPPED not in run_transform(state, "--exclude", "fct_indicator_spc")


def test_a_changed_model_macro_seed_or_setting_changes_the_fingerprint(
    city: tuple[State, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, _ = city
    project = tmp_path / "project"
    for name in (*transform.PROJECT_FOLDERS, *transform.PROJECT_FILES):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("python"))
        elif (ROOT / name).is_file():
            project.mkdir(exist_ok=True)
            shutil.copy(ROOT / name, project / name)
    monkeypatch.setenv("CC_DBT_PROJECT_DIR", str(project))
    monkeypatch.setenv("CC_WAREHOUSE", str(state.warehouse))
    settings = config.settings()
    original = transform.fingerprint(settings, [])
    assert transform.fingerprint(settings, []) == original

    changes = {
        "models/marts/indicators/fct_indicator_values.sql": "\n-- an edit\n",
        "macros/mother_age_group.sql": " ",
        "seeds/local_targets.csv": "",
        "dbt_project.yml": "\n# a comment\n",
    }
    for name, addition in changes.items():
        path = project / name
        kept = path.read_bytes()
        path.write_bytes(kept + addition.encode() if addition else kept[:-1])
        assert transform.fingerprint(settings, []) != original, name
        path.write_bytes(kept)
    assert transform.fingerprint(settings, []) == original

    (project / "models" / "marts" / "indicators" / "new_model.sql").write_text("select 1 as one\n")
    assert transform.fingerprint(settings, []) != original
    (project / "models" / "marts" / "indicators" / "new_model.sql").unlink()

    monkeypatch.setenv("CC_DUCKDB_MEMORY_LIMIT", "1GB")
    assert transform.fingerprint(settings, []) != original
    monkeypatch.delenv("CC_DUCKDB_MEMORY_LIMIT")
    monkeypatch.setenv("CC_TARGET", "spark")
    assert transform.fingerprint(config.settings(), []) != original


def test_source_freshness_runs_in_the_build_s_dbt_process_and_only_after_it_succeeded(
    city: tuple[State, Path],
) -> None:
    state, _ = city
    env = {"DBT_TARGET_PATH": str(state.root / "target"), "DBT_LOG_PATH": str(state.root / "logs")}
    before = fingerprint(state)
    failed = state.python("cc_warehouse", "transform", "--force", "--no-such-option", check=False, **env)
    assert failed.returncode == 1
    assert "dbt build: No such option '--no-such-option'" in failed.stdout + failed.stderr
    assert "dbt build failed (exit code 2)" in failed.stderr
    assert "dbt source freshness:" not in failed.stdout
    assert fingerprint(state) == before

    fast = [arg for arg in FAST if arg != "--no-freshness"]
    built = state.python("cc_warehouse", "transform", "--force", *fast, **env).stdout
    # one dbt process ran both (cc_warehouse.dbt_steps prints each command's seconds)
    assert re.search(r"^dbt build: [0-9.]+ s\ndbt source freshness: [0-9.]+ s$", built, re.MULTILINE), built
    assert "built and published" in built


def test_a_withdrawn_file_makes_the_next_build_a_full_one(city: tuple[State, Path]) -> None:
    """Issue 24: a file taken back out (`load --withdraw`) leaves records anywhere in time
    that an incremental build, which recomputes only what was loaded since and the periods it touches,
    would keep; so the next build is a full one, and the records are gone from the marts."""
    state, held_back = city
    name = f"maternity/{held_back.name}"
    run_transform(state)
    if not state.query("select count(*) from raw.load_log where file_name = ?", [name])[0][0]:
        shutil.move(held_back, state.landing / "maternity" / held_back.name)  # run alone: load it first
        state.python("cc_warehouse", "load", "--no-validate")
        run_transform(state)
    withdrawn = state.python("cc_warehouse", "load", "--withdraw", name)
    assert f"withdrawn {name}" in withdrawn.stdout
    rebuilt = run_transform(state)
    assert "full build" in rebuilt and "incremental build" not in rebuilt
    assert state.query("select count(*) from main.fct_load_files where file_name = ?", [name]) == [(0,)]
    state.python("cc_warehouse", "load", "--no-validate")  # the file is still in the landing folder
    again = run_transform(state)
    assert "incremental build (extracts of maternity)" in again
    assert state.query("select count(*) from main.fct_load_files where file_name = ?", [name]) == [(1,)]
