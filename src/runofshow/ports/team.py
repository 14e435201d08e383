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


@runtime_checkable
class Leases(Protocol):
    """Submitted runs and their leases (team mode, on PostgreSQL). Expiry uses the database's clock."""

    def submit(self, run: RunRecord, options: Mapping[str, Any]) -> None:
        """Record `run` (status queued) and its queued lease, in one transaction."""
        ...

    def claim(self, owner: str, ttl_s: float, run_id: str | None = None) -> Lease | None:
        """Take the oldest queued or expired lease (or `run_id`'s), one epoch up; None when none is free."""
        ...

    def renew(self, lease: Lease, ttl_s: float) -> datetime:
        """Push the expiry on; `LeaseLostError` when a newer epoch took the run over."""
        ...

    def release(self, lease: Lease, *, done: bool) -> None:
        """Give the run up: done (ended), or queued again for any worker. A stale lease changes nothing."""
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
    "Lease", "Leases",
]
