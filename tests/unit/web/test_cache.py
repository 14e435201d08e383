"""The per-process run cache: topped up by seq, the same answers as a fresh fold; figures kept per
seq, the previous ones served while new ones are computed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from runofshow.app.run.state import fold
from runofshow.web.cache import RunCache
from tests.helpers import wait_until
from tests.unit.web.conftest import WarRoom


def test_top_up_matches_a_fresh_fold(room: WarRoom) -> None:
    cache = RunCache(room.ledger)
    first = cache.view(room.run_id, lambda r, e, s: (len(e), s.last_seq))
    room.ledger.append(room.run_id, "parking_lot", {"text": "a", "by": "x", "t_s": 1.0}, datetime.now(UTC))
    seq, status = cache.view(room.run_id, lambda r, e, s: (s.last_seq, s.status))
    fresh = fold(room.ledger.events(room.run_id))
    assert seq == first[1] + 1 == fresh.last_seq and status == fresh.status


def test_figures_are_kept_per_seq_and_stale_ones_served_while_computing(room: WarRoom) -> None:
    cache = RunCache(room.ledger)
    calls: list[int] = []
    gate = threading.Event()

    def slow(events):  # type: ignore[no-untyped-def]
        calls.append(events[-1].seq)
        if len(calls) == 2:
            gate.wait(10)
        return events[-1].seq

    first = cache.figures(room.run_id, slow)
    assert cache.figures(room.run_id, slow) == first and calls == [first]  # kept
    room.ledger.append(room.run_id, "parking_lot", {"text": "a", "by": "x", "t_s": 1.0}, datetime.now(UTC))
    worker = threading.Thread(target=cache.figures, args=(room.run_id, slow))
    worker.start()
    wait_until(lambda: len(calls) == 2, timeout=10, what="the recomputation to start")
    assert cache.figures(room.run_id, slow) == first  # the new ones are being computed: the old ones
    gate.set()
    worker.join(10)
    assert cache.figures(room.run_id, slow) == first + 1 and len(calls) == 2
