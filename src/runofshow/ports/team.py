"""Team mode: the lease a worker holds on a run (with its fencing epoch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from runofshow.ports.run import Ledger, RunRecord


@dataclass(frozen=True)
class Lease:
    """Who drives a submitted run. `epoch` grows at every claim (the fencing token)."""

    run_id: str
    status: str  # queued, running, done
    owner: str | None
    epoch: int
    expires_at: datetime | None
    options: Mapping[str, Any] = field(default_factory=dict)
    previous_owner: str | None = None  # on a claim: who held it before (None: never driven)
    waiting: str | None = None  # queued and held back by a cap: which one (shown by status/runs)


@dataclass(frozen=True)
class Caps:
    """Concurrency caps a worker claims under, counted over every worker on the database: runs
    driven at once in all (`total`) and per service (`per_service`, the plan's release name).
    None: no cap. Taking over an orphaned run never counts as a new one."""

    total: int | None = None
    per_service: int | None = None

    @property
    def any(self) -> bool:
        return self.total is not None or self.per_service is not None


@runtime_checkable
class Leases(Protocol):
    """Submitted runs and their leases (team mode, on PostgreSQL). Expiry uses the database's clock."""

    def submit(self, run: RunRecord, options: Mapping[str, Any]) -> bool:
        """Record `run` (status queued) and its queued lease, in one transaction; False (nothing
        written) when a run with that id exists already."""
        ...

    def claim(self, owner: str, ttl_s: float, run_id: str | None = None, caps: Caps | None = None
              ) -> Lease | None:
        """Take the oldest queued or expired lease (or `run_id`'s), one epoch up; None when none is free.
        Under `caps` a queued run whose service (or the whole database) is at its cap is left
        queued, marked `waiting` with the cap's reason."""
        ...

    def renew(self, lease: Lease, ttl_s: float) -> datetime:
        """Push the expiry on; `LeaseLostError` when a newer epoch took the run over."""
        ...

    def check(self, lease: Lease, margin_s: float = 0.0) -> None:
        """`LeaseLostError` unless `lease` is still the run's lease and stays unexpired for at least
        `margin_s` more seconds (the database's clock): asked before every traffic change."""
        ...

    def renew_many(self, held: list[Lease], ttl_s: float) -> set[tuple[str, int]]:
        """Push on the expiry of every lease in `held` still at its epoch, in one statement; the
        (run id, epoch) of those renewed (a worker's one renewal for all its runs)."""
        ...

    def release(self, lease: Lease, *, done: bool) -> None:
        """Give the run up: done (ended), or queued again for any worker. A stale lease changes nothing."""
        ...

    def grown(self, known: Mapping[str, int]) -> dict[str, int]:
        """The runs of `known` (run id -> the last event number the caller has) whose ledger has
        more, with their last event number, in one query (a worker's look for other processes'
        events: only the runs that changed come back)."""
        ...

    def current(self, run_id: str) -> Lease | None:
        ...

    def all(self) -> list[Lease]:
        ...

    def fenced(self, lease: Lease) -> Ledger:
        """The ledger as the lease's holder writes it: every append and runs update carries the
        epoch, and the database refuses them (`LeaseLostError`) once the run was taken over."""
        ...


__all__ = [
    "Caps", "Lease", "Leases",
]
