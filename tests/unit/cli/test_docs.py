"""Docs that cannot drift: every command has help text and a README entry."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from runofshow.cli import main as cli_main

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


def _commands():
    cli_main._register()
    root = get_command(cli_main.app)
    for name, cmd in root.commands.items():
        subs = getattr(cmd, "commands", None)
        if subs:
            for sub_name, sub in subs.items():
                yield f"{name} {sub_name}", sub
        else:
            yield name, cmd


def test_every_command_has_help_and_a_readme_entry():
    missing_help, missing_readme = [], []
    for name, cmd in _commands():
        if not (cmd.help or "").strip():
            missing_help.append(name)
        if f"runofshow {name}" not in README:
            missing_readme.append(name)
    assert missing_help == [] and missing_readme == []


def test_readme_quick_start_has_the_two_commands():
    assert "make demo" in README and "make test" in README


def test_readme_documents_every_exit_code():
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |"):
        assert code in README
