"""cli/main.py's COMMANDS table (which module registers which top-level command) and what running
one command imports: its own command module only, and for `replay` neither rich nor another
command's libraries (issue 11: `runofshow replay X --json` starts fast)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from runofshow.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "src" / "runofshow" / "examples" / "ex-007.json"


@pytest.mark.parametrize("module", cli_main.COMMAND_MODULES)
def test_commands_table_names_exactly_what_each_module_registers(module):
    app = typer.Typer()
    importlib.import_module(module).register(app)
    registered = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert sorted(registered) == sorted(n for n, m in cli_main.COMMANDS.items() if m == module)


def _modules_after(argv: list[str]) -> tuple[str, set[str], dict[str, Any]]:
    """Run `runofshow ARGV` in a fresh interpreter: (its output, the modules it imported, the garbage
    collector's state after it)."""
    code = (
        "import gc, json, sys\n"
        "from runofshow.cli.main import main\n"
        f"try:\n    main({argv!r})\n"
        "except SystemExit:\n    pass\n"
        "gc_state = {'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()}\n"
        "print(json.dumps([sorted(sys.modules), gc_state]), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    modules, gc_state = json.loads(proc.stderr.splitlines()[-1])
    return proc.stdout, set(modules), gc_state


#: libraries of other commands that neither `--help` nor `replay` may load (issue 11)
HEAVY = ("pandas", "numpy", "scipy", "exchange_calendars", "sqlalchemy", "httpx", "yaml", "jinja2",
         "starlette", "fastapi", "uvicorn", "slack_sdk", "matplotlib", "plotly")


def _loaded(modules: set[str], roots: tuple[str, ...]) -> set[str]:
    return {m for m in modules if m in roots or m.startswith(tuple(f"{r}." for r in roots))}


def test_replay_json_imports_its_command_module_only_and_no_rich():
    out, modules, gc_state = _modules_after(["replay", str(EXAMPLE), "--json"])
    assert json.loads(out)["verdict"] == "rolled_back"
    assert gc_state["enabled"] and gc_state["frozen"] > 0  # the engine's modules frozen, collector back on
    commands = {m for m in modules if m.startswith("runofshow.cli.") and m.endswith("_cmd")}
    assert commands == {"runofshow.cli.replay_cmd"}
    assert not {m for m in modules if m == "rich" or m.startswith("rich.")}
    assert not {m for m in modules if m.startswith(("runofshow.adapters", "runofshow.web", "runofshow.reports"))}
    assert not _loaded(modules, HEAVY)


def test_replay_builds_only_the_engines_part_of_the_plan():
    """The decision engine reads `EnginePlan` (domain/rules.py); replay never builds the models of
    the plan's other sections (about 20 ms of pydantic class creation)."""
    _, modules, _ = _modules_after(["replay", str(EXAMPLE), "--json"])
    assert "runofshow.domain.rules" in modules
    others = {f"runofshow.domain.{m}" for m in
              ("plan", "connections", "communications", "freeze", "market", "war_room", "team", "addresses")}
    assert not others & modules


def test_help_imports_no_pydantic_rich_nor_a_commands_libraries():
    out, modules, _ = _modules_after(["--help"])
    assert "Commands:" in out and "replay" in out
    assert not _loaded(modules, ("pydantic", "rich", *HEAVY))
    assert not {m for m in modules if m.startswith(("runofshow.domain", "runofshow.app", "runofshow.adapters"))}


@pytest.mark.parametrize("module", cli_main.COMMAND_MODULES)
def test_command_annotations_are_evaluated_once_at_import(module):
    """No `from __future__ import annotations` in command modules: typer would eval every string
    annotation of every command (twice) to build `runofshow --help` (about 15 ms)."""
    app = typer.Typer()
    importlib.import_module(module).register(app)
    callbacks = [c.callback for c in app.registered_commands]
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        callbacks += [c.callback for c in sub.registered_commands]
        if sub.registered_callback is not None:
            callbacks.append(sub.registered_callback.callback)
    strings = {f"{f.__name__}.{k}" for f in callbacks if f for k, v in f.__annotations__.items() if isinstance(v, str)}
    assert strings == set()


def test_help_registers_every_command_in_the_tables_order():
    cli_main.app.registered_commands.clear()  # as in a fresh process: then one command, then help
    cli_main.app.registered_groups.clear()
    cli_main._registered.clear()
    cli_main._register("replay")
    assert [c.name for c in cli_main.app.registered_commands] == ["replay", "bench"]
    cli_main._register()
    names = [c.name for c in cli_main.app.registered_commands] + [g.name for g in cli_main.app.registered_groups]
    order = {m: i for i, m in enumerate(cli_main.COMMAND_MODULES)}
    assert sorted(names) == sorted(cli_main.COMMANDS)
    commands = [c.name for c in cli_main.app.registered_commands]
    assert commands == sorted(commands, key=lambda n: order[cli_main.COMMANDS[n]])


def test_a_module_with_one_command_still_runs_as_a_subcommand():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "runofshow.cli.main", "feedback", "--help"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: python -m runofshow.cli.main feedback ")
