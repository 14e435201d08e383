"""The `runofshow` command. Every command module registers itself here; errors become exit codes
in one place (`main`). The codes are `runofshow.cli.exit_codes.ExitCode` (0 ok, 1 unexpected,
2 bad input, 3 rolled back / blocked / failed, 4 halted).
"""

from __future__ import annotations

import importlib
import sys

import typer

from runofshow.cli.exit_codes import ExitCode
from runofshow.errors import InputError, RunOfShowError

app = typer.Typer(
    name="runofshow",
    help=(
        "Runs a canary release's run-of-show from one plan file: timeline, gates, traffic, war room,"
        " evidence.\n\nExit codes: 0 ok/promoted, 1 unexpected error, 2 bad input, 3 rolled back /"
        " blocked / failed, 4 halted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Which command module registers each top-level command (each module has `register(app)`; the
# table is checked against what they register in tests/unit/cli/test_main.py). Running a command
# imports its module only; help, no arguments and an unknown command register them all. Heavy
# libraries are imported lazily inside the commands so that `runofshow replay` starts fast.
COMMANDS = {
    "init": "runofshow.cli.plan_cmd",
    "validate": "runofshow.cli.plan_cmd",
    "plan": "runofshow.cli.plan_cmd",
    "replay": "runofshow.cli.replay_cmd",
    "bench": "runofshow.cli.replay_cmd",
    "window": "runofshow.cli.window_cmd",
    "freeze": "runofshow.cli.freeze_cmd",
    "blast": "runofshow.cli.blast_cmd",
    "grafana": "runofshow.cli.grafana_cmd",
    "run": "runofshow.cli.run_cmd",
    "resume": "runofshow.cli.run_cmd",
    "runs": "runofshow.cli.run_cmd",
    "status": "runofshow.cli.run_cmd",
    "events": "runofshow.cli.run_cmd",
    "demo": "runofshow.cli.demo_cmd",
    "preflight": "runofshow.cli.preflight_cmd",
    "evidence": "runofshow.cli.evidence_cmd",
    "report": "runofshow.cli.report_cmd",
    "rca": "runofshow.cli.report_cmd",
    "oneliner": "runofshow.cli.report_cmd",
    "decide": "runofshow.cli.warroom_cmd",
    "note": "runofshow.cli.warroom_cmd",
    "handover": "runofshow.cli.warroom_cmd",
    "feedback": "runofshow.cli.feedback_cmd",
    "serve": "runofshow.cli.serve_cmd",
    "token": "runofshow.cli.serve_cmd",
    "submit": "runofshow.cli.team_cmd",
    "worker": "runofshow.cli.team_cmd",
    "worker-alive": "runofshow.cli.team_cmd",
}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))


@app.callback()
def _group() -> None:
    """Keeps `runofshow` a group of commands when only one command's module is registered."""


_registered: list[str] = []


def _register(command: str | None = None) -> None:
    """Register the module of `command` (a top-level command name), or every module for anything
    else (None, an option, an unknown name). Registering all after one starts over, so that help
    always lists the commands in COMMANDS' order."""
    wanted = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    if all(name in _registered for name in wanted):
        return
    if wanted is COMMAND_MODULES:
        app.registered_commands.clear()
        app.registered_groups.clear()
        _registered.clear()
    for name in wanted:
        if name not in _registered:
            importlib.import_module(name).register(app)
            _registered.append(name)


def error_line(err: RunOfShowError) -> list[str]:
    """The one-line messages for an error (one per problem)."""
    return [p.replace("\n", " ") for p in err.problems]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    _register(args[0] if args else None)
    try:
        rv = app(args=argv, standalone_mode=False)
    except RunOfShowError as err:
        for line in error_line(err):
            print(line, file=sys.stderr)
        sys.exit(ExitCode.BAD_INPUT if isinstance(err, InputError) else ExitCode.UNEXPECTED)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("runofshow: aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as ex:  # click usage errors (typer vendors click) and the truly unexpected
        if callable(getattr(ex, "show", None)) and isinstance(getattr(ex, "exit_code", None), int):
            ex.show()
            sys.exit(ExitCode.BAD_INPUT)
        print(f"runofshow: unexpected error: {type(ex).__name__}: {ex}", file=sys.stderr)
        sys.exit(ExitCode.UNEXPECTED)
    sys.exit(rv if isinstance(rv, int) else ExitCode.OK)


if __name__ == "__main__":
    main()
