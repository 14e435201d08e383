"""The hash chain's two ways to hash an event: from the payload, and from its canonical JSON text
(what an append already has). They must agree on every payload, or a chain written one way would
not verify the other way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from runofshow.ledger_chain import GENESIS, event_hash, normalise_payload, text_event_hash

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@given(payload=st.dictionaries(st.text(max_size=10), JSON, max_size=6), seq=st.integers(1, 10**9),
       kind=st.text(min_size=1, max_size=20), prev=st.sampled_from([GENESIS, "ab" * 32]),
       offset_min=st.integers(-720, 720), micros=st.integers(0, 10**12))
def test_the_text_hash_is_the_payload_hash(payload: dict[str, object], seq: int, kind: str, prev: str,
                                           offset_min: int, micros: int) -> None:
    at = (datetime(2026, 12, 7, tzinfo=UTC) + timedelta(microseconds=micros)).astimezone(
        timezone(timedelta(minutes=offset_min)))
    text, normalised = normalise_payload(payload)
    assert text_event_hash(prev, seq, at, kind, text) == event_hash(prev, seq, at, kind, normalised)


def test_a_known_event_keeps_its_hash() -> None:
    """Chains already written stay valid: this digest was computed before the text hash existed."""
    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    text, normalised = normalise_payload({"weight": 5, "why": "stage 2 — ok", "m": [1.5, None]})
    want = event_hash("", 1, at, "decision", normalised)
    assert text_event_hash("", 1, at, "decision", text) == want == KNOWN


KNOWN = "da4e3ae6d627aa8b65876ecbde0c6f37907d1ff5b3d1f2ba2f6bbc7afe3f7a9f"  # main at 55f0c61
