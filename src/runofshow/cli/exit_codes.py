"""The exit codes of every `runofshow` command, in one enum (the README's table says the same).

    0  OK           success / promoted / allowed / verified
    1  UNEXPECTED   unexpected error (a bug or an outside failure we did not expect)
    2  BAD_INPUT    bad input: plan, scenario, timestamp, flag, or a refused decision
    3  ROLLED_BACK  rolled back / blocked / failed check (the thing asked about said no)
    4  HALTED       halted: held past its limit, window closed, stopped by the incident commander,
                    or paused

A run's use cases return its status (`RunStatus`), never a code; `ExitCode.of(status)` maps it
through the one mapping the ledger's `run_ended` records too (`runofshow.app.run.policy`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runofshow.app.run.events import RunStatus


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    BAD_INPUT = 2
    ROLLED_BACK = 3
    HALTED = 4

    @classmethod
    def of(cls, status: RunStatus) -> ExitCode:
        """The exit code of a run that stopped with `status`."""
        from runofshow.app.run.policy import exit_code_for

        return cls(exit_code_for(status))


__all__ = ["ExitCode"]
