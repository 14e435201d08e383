"""The change freeze's record as JSON in the evidence folder (`freeze_state.json`), rewritten
atomically after every change, so a failure part-way leaves an exact record."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from runofshow.domain.freeze import FreezeRecord
from runofshow.errors import EvidenceError
from runofshow.files import atomic_write_text

STATE_FILE = "freeze_state.json"


class JsonFreezeStore:
    """A `FreezeStore` in `<evidence_dir>/freeze_state.json`."""

    def __init__(self, evidence_dir: str | Path) -> None:
        self.path = Path(evidence_dir) / STATE_FILE

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> FreezeRecord | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return FreezeRecord(**data)
        except (OSError, ValueError, TypeError) as ex:
            raise EvidenceError(f"{self.path}: unreadable freeze record: {ex}") from None

    def save(self, record: FreezeRecord) -> None:
        atomic_write_text(self.path, json.dumps(asdict(record), indent=2, sort_keys=True) + "\n")
