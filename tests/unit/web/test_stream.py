"""The event stream: ledger seq as the SSE id, Last-Event-ID resumes, JSON by default."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.web.conftest import WarRoom


def sse_ids(text: str) -> list[int]:
    return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]


def test_events_as_json_after_a_seq(room: WarRoom) -> None:
    for text in ("one", "two"):
        room.ledger.append(room.run_id, "parking_lot", {"text": text, "by": "x", "t_s": 0.0}, datetime.now(UTC))
    n = len(room.kinds())
    r = room.client.get(f"/api/runs/{room.run_id}/events", params={"after": n - 2})
    assert [e["seq"] for e in r.json()] == [n - 1, n]


def test_stream_ids_are_ledger_seqs_and_last_event_id_resumes(room: WarRoom) -> None:
    n = len(room.kinds())
    url = f"/api/runs/{room.run_id}/events"
    with room.client.stream("GET", url, headers={"Accept": "text/event-stream"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        first = "".join(r.iter_text())  # the stream ends after stream_max_s (0.5 s here)
    assert sse_ids(first) == list(range(1, n + 1))
    assert "event: ledger" in first and "retry: 1000" in first
    # the browser was away while two events were appended; it reconnects with Last-Event-ID
    room.ledger.append(room.run_id, "parking_lot", {"text": "one", "by": "x", "t_s": 0.0}, datetime.now(UTC))
    room.ledger.append(room.run_id, "parking_lot", {"text": "two", "by": "x", "t_s": 0.0}, datetime.now(UTC))
    with room.client.stream("GET", url, headers={"Accept": "text/event-stream", "Last-Event-ID": str(n)}) as r:
        again = "".join(r.iter_text())
    assert sse_ids(again) == [n + 1, n + 2]
    bad = room.client.get(url, headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
    assert bad.status_code == 400


def test_stream_of_an_unknown_run_is_404(room: WarRoom) -> None:
    r = room.client.get("/api/runs/nope/events", headers={"Accept": "text/event-stream"})
    assert r.status_code == 404


def test_one_poller_per_run_serves_every_stream(room: WarRoom) -> None:
    import asyncio

    from runofshow.web.feed import Feed

    reads: list[int] = []

    def read(run_id: str, after: int):  # type: ignore[no-untyped-def]
        reads.append(after)
        return room.ledger.events(run_id, after)

    last = len(room.kinds())

    async def scenario() -> list[list[int]]:
        feed = Feed(read, poll_s=0.05)
        for _ in range(20):
            feed.watch(room.run_id, last)

        async def one() -> list[int]:
            got: list[int] = []
            after = last
            while len(got) < 3:
                events = await feed.after(room.run_id, after, 5.0)
                got += [e.seq for e in events]
                after = got[-1] if got else after
            return got

        streams = [asyncio.create_task(one()) for _ in range(20)]
        await asyncio.sleep(0.2)
        reads.clear()
        for text in ("a", "b", "c"):
            await asyncio.to_thread(room.ledger.append, room.run_id, "parking_lot",
                                    {"text": text, "by": "x", "t_s": 0.0}, datetime.now(UTC))
        results = await asyncio.wait_for(asyncio.gather(*streams), 10)
        for _ in range(20):
            feed.unwatch(room.run_id)
        return results

    results = asyncio.run(scenario())
    assert all(r == [last + 1, last + 2, last + 3] for r in results)
    assert len(reads) < 20  # one poller's reads, not one per stream per poll
