"""The blast-radius probe next to `hey` (achieved rate) and `wrk` (p95), against one loopback server.

    python bench/blast_vs_hey_wrk.py [--seconds 5] [--rate 200] [--concurrency 10] [--delay-ms 20]

A loopback aiohttp server (its own process, 127.0.0.1, a fixed delay per answer) is loaded three
times, one tool after the other, for the same duration:

  runofshow  open loop at --rate, at most --concurrency in flight; p95 from intended send times
  hey        -z Ns -c C -q R/C  (hey's -q is per worker, so R/C each makes R in all)
  wrk        -t1 -c C -d Ns --latency, closed loop (as fast as C connections go); p95 from a Lua
             `done` hook, since wrk's --latency table stops at 50/75/90/99

and the figures are printed side by side: our achieved rate / hey's (same target rate), our p95 /
wrk's (both should be the server's delay plus loopback overhead). Exits 1 when hey or wrk is
missing (Debian packages `hey` and `wrk`, installed by scripts/install-services.sh), when a tool
fails, or when our achieved rate falls below --min-rate-ratio of hey's or our p95 rises above
--max-p95-ratio of wrk's.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

WRK_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("runofshow p95_us %d\\n", latency:percentile(95)))
end
"""


@dataclass
class Figures:
    rate: float
    p95_ms: float
    success_pct: float


# --------------------------------------------------------------------------- the loopback server


def serve(port_file: Path, delay_ms: float) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_ms / 1000)
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port_file.write_text(str(runner.addresses[0][1]))
        await asyncio.sleep(3600)  # the parent kills us long before

    asyncio.run(main())


def start_server(tmp: Path, delay_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port_file = tmp / "port"
    argv = [sys.executable, __file__, "--serve", str(port_file), "--delay-ms", str(delay_ms)]
    proc = subprocess.Popen(argv)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, f"http://127.0.0.1:{port_file.read_text().strip()}/"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("bench: the loopback server did not start")


# --------------------------------------------------------------------------- the three tools


def ours(url: str, seconds: float, rate: float, concurrency: int) -> Figures:
    from runofshow.app.bootstrap import load_generator
    from runofshow.app.steps.blast import probe

    r = probe(url, "v0.0.0", seconds, rate, concurrency, now=lambda: datetime.now(UTC), load=load_generator(),
              evidence_dir=None)
    return Figures(r.achieved_rate, r.p95_s * 1000, r.success_pct)


def _run(argv: list[str], seconds: float) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[:500]}")
    return done.stdout


def _number(pattern: str, text: str, tool: str) -> float:
    m = re.search(pattern, text)
    if not m:
        raise SystemExit(f"bench: cannot read /{pattern}/ from {tool}'s output:\n{text}")
    return float(m.group(1))


def parse_hey(text: str) -> Figures:
    """hey's summary: `Requests/sec: 199.5`, `95% in 0.0213 secs`, `[200] 998 responses`."""
    rate = _number(r"Requests/sec:\s+([\d.]+)", text, "hey")
    p95_ms = _number(r"95%+ in ([\d.]+) secs", text, "hey") * 1000
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)}
    errors = sum(int(n) for n in re.findall(r"\]\s+(\d+)\s*$", text.split("Error distribution:")[-1], re.M)) \
        if "Error distribution:" in text else 0
    total = sum(codes.values()) + errors
    ok = sum(n for c, n in codes.items() if 200 <= c < 400)
    return Figures(rate, p95_ms, 100.0 * ok / total if total else 0.0)


def parse_wrk(text: str) -> Figures:
    """wrk's `Requests/sec: 480.1`, `N requests in ...`, `Non-2xx or 3xx responses: N`,
    `Socket errors: ...`, and our Lua hook's `runofshow p95_us N`."""
    rate = _number(r"Requests/sec:\s+([\d.]+)", text, "wrk")
    p95_ms = _number(r"runofshow p95_us (\d+)", text, "wrk") / 1000
    total = _number(r"(\d+) requests in", text, "wrk")
    bad = sum(float(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    bad += sum(float(g) for g in m.groups()) if m else 0
    return Figures(rate, p95_ms, 100.0 * (total - bad) / total if total else 0.0)


def hey(url: str, seconds: float, rate: float, concurrency: int) -> Figures:
    argv = ["hey", "-z", f"{seconds:g}s", "-c", str(concurrency), "-q", f"{rate / concurrency:g}", url]
    return parse_hey(_run(argv, seconds))


def wrk(url: str, seconds: float, concurrency: int, tmp: Path) -> Figures:
    script = tmp / "p95.lua"
    script.write_text(WRK_LUA)
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    return parse_wrk(_run(argv, seconds))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--delay-ms", type=float, default=20)
    ap.add_argument("--min-rate-ratio", type=float, default=0.9, help="ours / hey must reach this")
    ap.add_argument("--max-p95-ratio", type=float, default=1.5, help="ours / wrk must stay below this")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.delay_ms)
        return 0
    missing = [t for t in ("hey", "wrk") if shutil.which(t) is None]
    if missing:
        print(f"bench: {' and '.join(missing)} not found on PATH; install the Debian package(s) "
              f"{' '.join(missing)} (make services runs scripts/install-services.sh)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, url = start_server(tmp, args.delay_ms)
        try:
            a = ours(url, args.seconds, args.rate, args.concurrency)
            h = hey(url, args.seconds, args.rate, args.concurrency)
            w = wrk(url, args.seconds, args.concurrency, tmp)
        finally:
            proc.kill()
            proc.wait(10)
    rate_ratio = a.rate / h.rate if h.rate else 0.0
    p95_ratio = a.p95_ms / w.p95_ms if w.p95_ms else float("inf")
    print(f"loopback aiohttp server, {args.delay_ms:g} ms per answer; {args.seconds:g} s, target "
          f"{args.rate:g} req/s, {args.concurrency} connections")
    print(f"{'':24}{'runofshow':>11}{'hey':>11}{'wrk':>11}   ratio")
    print(f"{'achieved rate (req/s)':24}{a.rate:11.1f}{h.rate:11.1f}{w.rate:11.1f}   "
          f"{rate_ratio:.3f} runofshow/hey  (wrk: closed loop, no target rate)")
    print(f"{'p95 (ms)':24}{a.p95_ms:11.2f}{h.p95_ms:11.2f}{w.p95_ms:11.2f}   {p95_ratio:.3f} runofshow/wrk")
    print(f"{'success (%)':24}{a.success_pct:11.1f}{h.success_pct:11.1f}{w.success_pct:11.1f}")
    problems = []
    if rate_ratio < args.min_rate_ratio:
        problems.append(f"achieved rate ratio {rate_ratio:.3f} < {args.min_rate_ratio:g}")
    if p95_ratio > args.max_p95_ratio:
        problems.append(f"p95 ratio {p95_ratio:.3f} > {args.max_p95_ratio:g}")
    for p in problems:
        print(f"bench: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
