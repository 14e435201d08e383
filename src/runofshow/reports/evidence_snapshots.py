"""The seed's auto-snapshot (`watch -n 60 snapshot-metrics.sh`), rebuilt from the ledger: one file
per plan minute of every stage, with the six gates for both tracks.

    snapshots/stage_N_HHMM.json   the last decision tick of stage N in plan minute HH:MM (UTC):
                                  canary and baseline per gate, verdicts, requests, the action

Built by the evidence builder from the `decision` events alone (no extra queries): every decision
tick of a stage already holds both tracks' values. With the default tick (60 s) that is one file
every minute; a tick longer than a minute leaves the minutes between ticks without a file, and a
minute with several ticks keeps its last. Pure: events in, text out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from runofshow.reports.evidence_render import RunView, gates_json, tick_rows

SNAPSHOT_DIR = "snapshots"


def snapshot_name(stage: int, minute_at: datetime) -> str:
    """`snapshots/stage_2_0431.json` for 1-based stage 2 at plan minute 04:31 UTC."""
    return f"{SNAPSHOT_DIR}/stage_{stage}_{minute_at.astimezone(UTC):%H%M}.json"


def snapshot_files(v: RunView) -> dict[str, str]:
    """{relative path: JSON text} of every stage's per-minute snapshot."""
    t0 = v.started.t0_at
    files: dict[str, str] = {}
    if not t0:
        return files
    start = datetime.fromisoformat(t0)
    gates = gates_json(v.plan)
    for stage in v.stages_started():
        weight = v.stage_weight(stage)
        for row in tick_rows(v, stage):
            if row["t_s"] is None:
                continue
            minute_at = (start + timedelta(seconds=float(row["t_s"]))).replace(second=0, microsecond=0)
            doc = {"run_id": v.run_id, "release": v.version, "stage": stage + 1, "weight": weight,
                   "minute": minute_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"), "gates": gates,
                   "tick": row}
            files[snapshot_name(stage + 1, minute_at)] = json.dumps(
                doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    return files


__all__ = ["SNAPSHOT_DIR", "snapshot_files", "snapshot_name"]
