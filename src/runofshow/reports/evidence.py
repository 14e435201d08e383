"""The evidence bundle: atomic writes, `MANIFEST.sha256`, the ledger's hash chain, and `verify`.

    build_bundle(events, plan, out_dir)   every evidence file rebuilt from the ledger events, the
                                          chain export, success_criteria.txt, then the manifest
    write_manifest(dir)                   MANIFEST.sha256 in `sha256sum` format (`sha256sum -c`
                                          checks it), sorted, every file but itself
    verify(dir, ledger_events=None)       changed, missing and added files; a broken hash chain

Every file is written atomically (`runofshow.files`: a temporary file in the same folder, fsync,
`os.replace`, fsync of the folder). A writer that dies part-way leaves the previous file (or
none), never half of a new one. The chain export makes the folder verifiable on its own:
`ledger_chain.json` holds each event's (seq, kind, at, prev_hash, hash), `ledger_events.jsonl`
the events themselves, so `verify` recomputes every hash with the ledger's own function
(`event_hash`) and checks the links.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runofshow.domain import checklist
from runofshow.domain.plan import Plan
from runofshow.errors import EvidenceError
from runofshow.files import atomic_write_text, remove_stale_temps

# The one hash-chain implementation (shared with SqlLedger / InMemoryLedger). It is pure; see the
# note in the report about moving it below `adapters` so `reports` may import it by the layer rules.
from runofshow.ledger_chain import GENESIS, canonical_json, chain_problems
from runofshow.ports import LedgerEvent
from runofshow.reports import evidence_render as render
from runofshow.reports.evidence_snapshots import snapshot_files
from runofshow.reports.evidence_steps import checkins, run_facts, step_files

MANIFEST = "MANIFEST.sha256"
CHAIN_FILE = "ledger_chain.json"
EVENTS_FILE = "ledger_events.jsonl"
CRITERIA_FILE = "success_criteria.txt"
CHAIN_ALGORITHM = "sha256(prev_hash + canonical_json({seq, at, kind, payload})); first prev_hash is ''"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


# --------------------------------------------------------------------------- manifest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bundle_files(folder: str | Path) -> list[str]:
    """Every regular file under `folder` (relative POSIX paths, sorted), except the manifest."""
    root = Path(folder)
    names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return sorted(n for n in names if n != MANIFEST)


def write_manifest(folder: str | Path) -> Path:
    """MANIFEST.sha256: `<sha256>  <path>` per file, sorted by path, excluding itself."""
    root = Path(folder)
    lines = []
    for name in bundle_files(root):
        if "\n" in name or "\\" in name:
            raise EvidenceError(f"{root / name}: names with a newline or backslash cannot be listed")
        lines.append(f"{sha256_file(root / name)}  {name}\n")
    return atomic_write_text(root / MANIFEST, "".join(lines))


def read_manifest(folder: Path) -> tuple[dict[str, str], list[str]]:
    """{path: sha256} and one problem per unreadable line."""
    entries: dict[str, str] = {}
    problems: list[str] = []
    for i, line in enumerate((folder / MANIFEST).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        name = m.group(2) if m else ""
        if m is None or name.startswith("/") or ".." in Path(name).parts:
            problems.append(f"{MANIFEST} line {i}: not '<sha256>  <relative path>'")
            continue
        if name in entries:
            problems.append(f"{MANIFEST} line {i}: {name} is listed twice")
        entries[name] = m.group(1)
    return entries, problems


# --------------------------------------------------------------------------- the ledger chain


def chain_rows(events: Sequence[LedgerEvent]) -> list[dict[str, Any]]:
    return [{"seq": e.seq, "kind": e.kind, "at": e.at.isoformat(), "prev_hash": e.prev_hash, "hash": e.hash}
            for e in events]


def write_chain(events: Sequence[LedgerEvent], folder: str | Path) -> list[Path]:
    """ledger_chain.json (the links) and ledger_events.jsonl (the events, canonical JSON)."""
    root = Path(folder)
    rows = chain_rows(events)
    doc = {"run_id": events[0].run_id if events else "", "algorithm": CHAIN_ALGORITHM, "count": len(rows),
           "head": rows[-1]["hash"] if rows else GENESIS, "events": rows}
    chain = atomic_write_text(root / CHAIN_FILE, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    body = "".join(canonical_json({"seq": e.seq, "at": e.at, "kind": e.kind, "payload": dict(e.payload),
                                   "prev_hash": e.prev_hash, "hash": e.hash}) + "\n" for e in events)
    return [chain, atomic_write_text(root / EVENTS_FILE, body)]


def _link_problems(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    problems, prev = [], GENESIS
    for expected, row in enumerate(rows, start=1):
        seq = row.get("seq")
        if seq != expected:
            problems.append(f"chain seq {seq}: expected seq {expected} (gap or reorder)")
        if row.get("prev_hash") != prev:
            problems.append(f"chain seq {seq}: prev_hash does not match the previous event's hash")
        prev = str(row.get("hash", ""))
    return problems


def _events_from_jsonl(path: Path, run_id: str) -> tuple[list[LedgerEvent], list[str]]:
    events, problems = [], []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            d = json.loads(line)
            events.append(LedgerEvent(run_id=run_id, seq=int(d["seq"]), at=datetime.fromisoformat(d["at"]),
                                      kind=str(d["kind"]), payload=d.get("payload") or {},
                                      prev_hash=str(d["prev_hash"]), hash=str(d["hash"])))
        except (ValueError, KeyError, TypeError) as err:
            problems.append(f"{EVENTS_FILE} line {i}: unreadable event ({type(err).__name__})")
    return events, problems


def chain_check(folder: str | Path, ledger_events: Sequence[LedgerEvent] | None = None) -> list[str]:
    """Problems with the ledger chain: the exported links, the exported events' hashes (recomputed),
    and, given the ledger's events, the ledger's own chain and whether the bundle matches it."""
    root = Path(folder)
    problems: list[str] = []
    rows: list[Mapping[str, Any]] | None = None
    run_id = ""
    if (root / CHAIN_FILE).is_file():
        try:
            doc = json.loads((root / CHAIN_FILE).read_text(encoding="utf-8"))
            rows, run_id = list(doc["events"]), str(doc.get("run_id", ""))
        except (ValueError, KeyError, TypeError, OSError):
            problems.append(f"{CHAIN_FILE}: unreadable")
        if rows is not None:
            problems += _link_problems(rows)
            if rows and doc.get("head") != rows[-1].get("hash"):
                problems.append(f"{CHAIN_FILE}: head is not the last event's hash")
    if (root / EVENTS_FILE).is_file():
        exported, bad = _events_from_jsonl(root / EVENTS_FILE, run_id)
        problems += bad
        problems += [p.replace(f"{run_id} seq", "event seq", 1) for p in chain_problems(exported)]
        links = [(r.get("seq"), r.get("hash")) for r in rows or ()]
        if rows is not None and links != [(e.seq, e.hash) for e in exported]:
            problems.append(f"{EVENTS_FILE} and {CHAIN_FILE} disagree")
    if ledger_events is not None:
        problems += [f"ledger: {p}" for p in chain_problems(list(ledger_events))]
        if rows is None:
            problems.append(f"{CHAIN_FILE}: missing, cannot compare the bundle with the ledger")
        else:
            ours = {int(r.get("seq", 0)): r.get("hash") for r in rows}
            theirs = {e.seq: e.hash for e in ledger_events}
            if len(ours) != len(theirs):
                problems.append(f"bundle has {len(ours)} events, the ledger {len(theirs)}")
            problems += [f"seq {s}: bundle hash differs from the ledger"
                         for s in sorted(set(ours) & set(theirs)) if ours[s] != theirs[s]]
    return problems


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyReport:
    folder: str
    checked: int = 0
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    manifest: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.chain or self.manifest)

    def problems(self) -> list[str]:
        return [*self.manifest, *(f"changed: {n}" for n in self.changed),
                *(f"missing: {n}" for n in self.missing), *(f"added: {n}" for n in self.added),
                *(f"broken chain: {p}" for p in self.chain)]


def verify(folder: str | Path, ledger_events: Sequence[LedgerEvent] | None = None) -> VerifyReport:
    root = Path(folder)
    if not root.is_dir():
        raise EvidenceError(f"{root}: not a folder")
    if not (root / MANIFEST).is_file():
        return VerifyReport(str(root), manifest=(f"{MANIFEST}: missing",), added=tuple(bundle_files(root)),
                            chain=tuple(chain_check(root, ledger_events)))
    entries, manifest_problems = read_manifest(root)
    on_disk = set(bundle_files(root))
    changed, missing = [], []
    for name, digest in sorted(entries.items()):
        path = root / name
        if not path.is_file():
            missing.append(name)
        elif sha256_file(path) != digest:
            changed.append(name)
    notes = () if (root / CHAIN_FILE).is_file() or ledger_events is not None else (
        f"no {CHAIN_FILE}: the ledger chain was not checked",)
    return VerifyReport(
        str(root), checked=len(entries), changed=tuple(changed), missing=tuple(missing),
        added=tuple(sorted(on_disk - set(entries))), chain=tuple(chain_check(root, ledger_events)),
        manifest=tuple(manifest_problems), notes=notes,
    )


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class BundleResult:
    folder: Path
    files: tuple[str, ...]
    criteria: tuple[checklist.Criterion, ...]


def render_files(events: Iterable[LedgerEvent], plan: Plan | None = None) -> dict[str, str]:
    """{name: text} of every evidence file the events support (not the chain, checklist or manifest)."""
    v = render.RunView.of(events, plan)
    files = step_files(v)
    files["canary_timeline.txt"] = render.canary_timeline(v)
    for stage in v.stages_started():
        files[f"summary_stage_{stage + 1}.txt"] = render.stage_summary(v, stage)
        files[f"stage_{stage + 1}_metrics.json"] = render.stage_metrics_json(v, stage)
        files[f"stage_{stage + 1}_metrics.csv"] = render.stage_metrics_csv(v, stage)
    files[render.WAR_ROOM_FILE] = render.war_room_log(v)
    files["parking_lot.txt"] = render.parking_lot(v)
    files.update(checkins(v))
    files.update(snapshot_files(v))
    return files


def build_bundle(events: Iterable[LedgerEvent], plan: Plan | None, out_dir: str | Path) -> BundleResult:
    """Write every evidence file from `events` into `out_dir`, then the chain, the success
    checklist and MANIFEST.sha256. `plan=None` uses the plan recorded in run_started."""
    evs = sorted(events, key=lambda e: e.seq)
    if not evs:
        raise EvidenceError("no ledger events: nothing to build evidence from")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(root)
    files = render_files(evs, plan)
    for name, text in files.items():
        if not all(_SAFE_NAME.match(part) for part in name.split("/")):  # snapshots/ is the one folder
            raise EvidenceError(f"evidence file name '{name}' is not a plain file name")
        atomic_write_text(root / name, text)
    write_chain(evs, root)
    view = render.RunView.of(evs, plan)
    existing = set(bundle_files(root)) - {CRITERIA_FILE}
    criteria = checklist.evaluate(run_facts(view, evidence_files=len(existing) + 2))  # + itself + manifest
    head = f"SUCCESS CRITERIA {view.version} run {view.run_id}"
    atomic_write_text(root / CRITERIA_FILE, f"{head}\n{'=' * len(head)}\n{checklist.render(criteria)}")
    write_manifest(root)
    names = (*files, CHAIN_FILE, EVENTS_FILE, CRITERIA_FILE, MANIFEST)
    return BundleResult(root, tuple(sorted(names)), criteria)


__all__ = [
    "CHAIN_FILE", "CRITERIA_FILE", "EVENTS_FILE", "MANIFEST", "BundleResult", "VerifyReport", "build_bundle",
    "bundle_files", "chain_check", "chain_rows", "read_manifest", "render_files", "sha256_file", "verify",
    "write_chain", "write_manifest",
]
