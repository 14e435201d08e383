"""The ledger's hash chain, shared by the ledgers (`SqlLedger`, `InMemoryLedger`) and the evidence bundle.

Each event's hash is sha256 over `prev_hash + canonical JSON of {seq, at, kind, payload}`, where
`at` is ISO 8601 in UTC with microseconds and canonical JSON has sorted keys, no spaces and no NaN.
The first event of a run has `prev_hash == ""`. Payloads are normalised through the same JSON
(tuples become lists, datetimes ISO strings, enums their values), so what is read back hashes
to what was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from runofshow.errors import LedgerError
from runofshow.ports import LedgerEvent

GENESIS = ""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Mapping):
        return dict(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, compact, UTF-8, no NaN/Infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
        default=_default,
    )


def utc(at: datetime) -> datetime:
    """`at` in UTC. Naive datetimes are refused: no naive datetimes anywhere."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise LedgerError(f"ledger: naive datetime {at.isoformat()} (give a time zone)", adapter="ledger")
    return at.astimezone(UTC)


def normalise_payload(payload: Mapping[str, Any], store: str = "ledger") -> tuple[str, dict[str, Any]]:
    """The payload as canonical JSON text and as the dict that text reads back as."""
    try:
        text = canonical_json(dict(payload))
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"{store}: payload is not JSON: {exc}", adapter="ledger", target=store) from None
    return text, json.loads(text)


def event_hash(prev_hash: str, seq: int, at: datetime, kind: str, payload: Mapping[str, Any]) -> str:
    return text_event_hash(prev_hash, seq, at, kind, canonical_json(payload))


def text_event_hash(prev_hash: str, seq: int, at: datetime, kind: str, payload_text: str) -> str:
    """`event_hash` of a payload already in canonical JSON (`normalise_payload`'s text): the body is
    the canonical JSON of {seq, at, kind, payload} (keys sorted: at, kind, payload, seq), put
    together around that text instead of encoding the payload a second time."""
    body = (f'{{"at":{canonical_json(utc(at).isoformat(timespec="microseconds"))},'
            f'"kind":{canonical_json(kind)},"payload":{payload_text},"seq":{int(seq)}}}')
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def chain_problems(events: Sequence[LedgerEvent]) -> list[str]:
    """One line per broken link in a run's events (ordered by seq); empty when the chain holds."""
    problems: list[str] = []
    prev = GENESIS
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            problems.append(f"{ev.run_id} seq {ev.seq}: expected seq {expected_seq} (gap or reorder)")
        if ev.prev_hash != prev:
            problems.append(f"{ev.run_id} seq {ev.seq}: prev_hash does not match the previous event's hash")
        want = event_hash(ev.prev_hash, ev.seq, ev.at, ev.kind, ev.payload)
        if ev.hash != want:
            problems.append(f"{ev.run_id} seq {ev.seq}: hash mismatch (event was altered)")
        prev = ev.hash
    return problems
