"""One exception tree for runofshow. Imports nothing of ours.

    RunOfShowError                      base; carries a one-line message for people
    ├── InputError                      bad input from a person: exit 2
    │   ├── PlanError                   plan.yaml cannot be read or is invalid (one line per problem)
    │   ├── ScenarioError               a replay scenario is malformed
    │   ├── TimestampError              an --at / --start value is not ISO 8601 with an offset
    │   ├── NotAuthorisedError          someone other than the incident commander tried to decide
    │   └── RunNotFoundError            no run with that id in the ledger (also a LedgerError: it is
    │                                   the ledger's answer, so its callers may catch either)
    ├── AdapterError                    an outside system failed (names the adapter and the target)
    │   ├── MetricsUnavailableError     the metrics source did not answer
    │   ├── RouterError                 the traffic router could not set or read the weight
    │   ├── PullRequestHostError        GitHub (or another PR host) failed
    │   ├── NotifierError               a notification channel failed
    │   └── LedgerError                 the ledger (SQLite / PostgreSQL) failed
    │       └── LeaseLostError          team mode: another worker took the run over (a newer epoch)
    └── EvidenceError                   evidence cannot be written or does not verify

The CLI maps them to exit codes in one place (`runofshow.cli.main`).
"""

from __future__ import annotations


class RunOfShowError(Exception):
    """Base of every error runofshow raises on purpose."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[str] = list(problems) if problems else [message]

    def __str__(self) -> str:
        return self.message


class InputError(RunOfShowError):
    """Bad input from a person or a file: the CLI exits 2."""


class PlanError(InputError):
    """The plan file cannot be read or does not validate. `problems` holds one line per problem."""


class ScenarioError(InputError):
    """A replay scenario is malformed."""


class TimestampError(InputError):
    """A timestamp is not ISO 8601 with an offset or `Z`."""


class NotAuthorisedError(InputError):
    """A decision was attempted by someone who is not the incident commander."""


class AdapterError(RunOfShowError):
    """An outside system failed. The message names the adapter and its target."""

    def __init__(self, message: str, *, adapter: str = "", target: str = "") -> None:
        super().__init__(message)
        self.adapter = adapter
        self.target = target


class MetricsUnavailableError(AdapterError):
    """The metrics source did not answer."""


class RouterError(AdapterError):
    """The traffic router could not set or read back the canary weight."""


class PullRequestHostError(AdapterError):
    """The pull-request host (GitHub) failed."""


class NotifierError(AdapterError):
    """A notification channel failed."""


class LedgerError(AdapterError):
    """The ledger could not be read or written."""


class LeaseLostError(LedgerError):
    """Team mode: the run's lease was taken over (a newer epoch); the database refused the write or
    the renewal. The worker stops driving that run (`lease_lost` in its log)."""


class RunNotFoundError(InputError, LedgerError):
    """No run with that id in the ledger: a person gave a wrong run id (exit 2). The ledgers raise
    it, so it is a `LedgerError` too."""


class EvidenceError(RunOfShowError):
    """Evidence cannot be written, or does not verify."""


__all__ = [
    "AdapterError",
    "EvidenceError",
    "InputError",
    "LeaseLostError",
    "LedgerError",
    "MetricsUnavailableError",
    "NotAuthorisedError",
    "NotifierError",
    "PlanError",
    "PullRequestHostError",
    "RouterError",
    "RunNotFoundError",
    "RunOfShowError",
    "ScenarioError",
    "TimestampError",
]
