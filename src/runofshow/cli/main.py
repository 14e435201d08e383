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

# One line per command module; each has `register(app)`. Heavy libraries are imported lazily
# inside the commands so that `runofshow replay` starts fast.
COMMAND_MODULES = [
    "runofshow.cli.plan_cmd",
    "runofshow.cli.replay_cmd",
    "runofshow.cli.window_cmd",
    "runofshow.cli.freeze_cmd",
    "runofshow.cli.blast_cmd",
    "runofshow.cli.grafana_cmd",
    "runofshow.cli.run_cmd",
    "runofshow.cli.demo_cmd",
    "runofshow.cli.preflight_cmd",
    "runofshow.cli.evidence_cmd",
    "runofshow.cli.report_cmd",
    "runofshow.cli.warroom_cmd",
    "runofshow.cli.feedback_cmd",
    "runofshow.cli.serve_cmd",
    "runofshow.cli.team_cmd",
]


_registered: list[str] = []


def _register() -> None:
    for name in COMMAND_MODULES:
        if name not in _registered:
            importlib.import_module(name).register(app)
            _registered.append(name)


def error_line(err: RunOfShowError) -> list[str]:
    """The one-line messages for an error (one per problem)."""
    return [p.replace("\n", " ") for p in err.problems]


def main(argv: list[str] | None = None) -> None:
    _register()
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
