"""At most one recorded refusal per source address per window: a scanner's flood of anonymous
requests must not flood the ledger.

    throttle = Throttle(every_s=10, max_sources=64)
    n = throttle.admit("203.0.113.7")   # None: counted, not to be recorded; an int: record it now,
                                        # with n more refusals that were not recorded one by one

Past `max_sources` addresses in one window, new ones share the key OTHER_SOURCES (a scan from many
addresses is still one event per window). The webhook's refusals follow the same rule inside the
runner (`runofshow.app.run.refusals`); this one is for processes without a runner (the web server).
Its memory is a courtesy to the ledger, not state: a second replica limits its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runofshow.app.run.refusals import EVERY_S, MAX_SOURCES, OTHER_SOURCES


class Throttle:
    def __init__(self, every_s: float = EVERY_S, max_sources: int = MAX_SOURCES,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.max_sources, self._now = every_s, max_sources, now
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # source -> when its last refusal was recorded
        self._counted: dict[str, int] = {}  # source -> refusals since, not recorded
        self._orphans = 0  # counted for addresses that went quiet: told with the next record

    def key(self, source: str) -> str:
        """The key `source` counts under (OTHER_SOURCES once the window holds max_sources)."""
        if source in self._last or len(self._last) < self.max_sources:
            return source
        return OTHER_SOURCES

    def admit(self, source: str) -> int | None:
        """None when a refusal from `source` was recorded within the window (counted); otherwise the
        number counted since (0 on the first), and the window starts again."""
        with self._lock:
            now = self._now()
            for old in [s for s, at in self._last.items() if now - at >= self.every_s]:
                del self._last[old]  # a window has passed: what it counted goes with the next record
                self._orphans += self._counted.pop(old, 0)
            key = self.key(source)
            if key in self._last:
                self._counted[key] = self._counted.get(key, 0) + 1
                return None
            self._last[key] = now
            told, self._orphans = self._orphans, 0
            return told

    def suppressed(self) -> int:
        """Refusals counted and not (yet) recorded, over all sources."""
        with self._lock:
            return sum(self._counted.values()) + self._orphans


__all__ = ["Throttle"]
