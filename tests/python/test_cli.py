"""The `cc` command and the package behind it: every command answers --help, the package has
no import cycle, and the long steps draw a bar at a terminal and plain lines otherwise."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from cc_warehouse import cli, progress

PACKAGE = Path(cli.__file__).parent


def cc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cc_warehouse", *args], capture_output=True, text=True)


def test_cc_lists_every_command():
    result = cc("--help")
    assert result.returncode == 0
    for name in cli.COMMANDS:
        assert f"\n  {name} " in result.stdout


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_answers_help_under_its_own_name(name):
    result = cc(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: cc {name}")


def test_an_unknown_command_is_refused_with_the_list():
    result = cc("lod")
    assert result.returncode == 2
    assert "no command 'lod'" in result.stderr and "transform" in result.stderr


def _imports(path: Path) -> set[str]:
    """The cc_warehouse modules a module imports when it is imported (not inside functions)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cc_warehouse"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(
                    candidate
                    if (PACKAGE.parent / candidate.replace(".", "/")).exists()
                    or (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists()
                    else node.module
                )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cc_warehouse"))
    found.discard(module)
    return found


def test_the_package_has_no_import_cycle():
    modules = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }
    graph = {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}
    assert len(graph) > 30 and sum(map(len, graph.values())) > 50
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail, name))
        if name in done:
            return
        for other in graph[name]:
            visit(other, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_a_bar_at_a_terminal_plain_lines_otherwise(monkeypatch, capsys):
    monkeypatch.setenv("CC_PROGRESS", "1")
    assert list(progress.bar(range(3), "loading", "file")) == [0, 1, 2]
    progress.echo("a.csv: 3 read")
    out, err = capsys.readouterr()
    assert "a.csv: 3 read" in out
    assert "loading:" in err and "/3 [" in err
    monkeypatch.setenv("CC_PROGRESS", "0")
    assert list(progress.bar(range(3), "loading", "file")) == [0, 1, 2]
    progress.echo("b.csv: 2 read")
    out, err = capsys.readouterr()
    assert out == "b.csv: 2 read\n" and err == ""
    # not a terminal (as under pytest and in CI): no bar
    monkeypatch.delenv("CC_PROGRESS")
    assert not progress.enabled()
