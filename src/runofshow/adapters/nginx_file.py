"""nginx file traffic router, for VM setups: writes an upstream/split config, tests it, reloads nginx.

The file belongs in nginx's `http {}` context (e.g. `/etc/nginx/conf.d/runofshow-canary.conf`). Its
first line, `# runofshow canary-weight: W`, is the read-back. Between 0 and 100 % it splits with
`split_clients` (0.01 % steps, nginx's finest); nginx rejects a `0%` bucket, so at 0 % and at 100 %
there is no `split_clients` at all and the server proxies to the one upstream, which also keeps a
broken canary address from blocking a rollback. Responses carry `X-Canary-Track` and
`X-Canary-Weight`, so the running nginx can be checked too.

`set_weight`: render; if the file already holds exactly that, do nothing (idempotent); otherwise
write it atomically (temp file + rename), run `nginx -t`, then `nginx -s reload` (both with the
configured -p / -c / -e). If either fails, the old file is put back and `RouterError` carries
nginx's message, so the file and its read-back never claim a weight nginx is not serving.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from runofshow.adapters.weights import checked_weight
from runofshow.domain.connections import NginxFileRouterSettings
from runofshow.errors import RouterError

ADAPTER = "nginx_file"
HEADER = "# runofshow canary-weight: "
_HEADER_RE = re.compile(r"^# runofshow canary-weight: (\d{1,3}(?:\.\d{1,2})?)[ \t]*$", re.MULTILINE)
_SERVER_RE = re.compile(r"^(?:unix:/[^\s;{}\"']+|[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
                        r"(?: [a-z_]+(?:=[A-Za-z0-9_.]+)?)*$")
_LISTEN_RE = re.compile(r"^[A-Za-z0-9_.:\[\]\- ]+$")
STABLE, CANARY = "runofshow_stable", "runofshow_canary"


def grid_weight(weight: float) -> float:
    """`weight` checked: 0..100 in 0.01 % steps (what `split_clients` can express)."""
    w = checked_weight(weight)
    hundredths = round(w * 100)
    if abs(hundredths - w * 100) > 1e-6:
        raise ValueError(f"nginx split_clients works in 0.01 % steps; {weight!r} % is finer")
    return hundredths / 100


def format_weight(weight: float) -> str:
    """25.0 -> '25', 0.5 -> '0.5', 12.34 -> '12.34'."""
    return f"{weight:.2f}".rstrip("0").rstrip(".")


def _servers(kind: str, servers: tuple[str, ...]) -> list[str]:
    if not servers:
        raise ValueError(f"{kind}_servers is empty")
    for server in servers:
        if not _SERVER_RE.match(server):
            raise ValueError(f"{kind}_servers: '{server}' is not an nginx upstream server address")
    return [f"    server {s};" for s in servers]


def render(settings: NginxFileRouterSettings, weight: float) -> str:
    """The whole config file for `weight` % (pure)."""
    w = grid_weight(weight)
    if not _LISTEN_RE.match(settings.listen):
        raise ValueError(f"listen: '{settings.listen}' is not an nginx listen address")
    if any(c in settings.split_key for c in "\"\\\n;"):
        raise ValueError(f"split_key: '{settings.split_key}' may not contain quotes, backslashes or ';'")
    shown = format_weight(w)
    lines = [
        f"{HEADER}{shown}",
        "# Written by runofshow (NginxFileRouter). The next weight change replaces this file.",
    ]
    if w < 100:
        lines += [f"upstream {STABLE} {{", *_servers("stable", settings.stable_servers), "}"]
    if w > 0:
        lines += [f"upstream {CANARY} {{", *_servers("canary", settings.canary_servers), "}"]
    if 0 < w < 100:
        lines += [
            f'split_clients "{settings.split_key}" $runofshow_upstream {{',
            f"    {shown}% {CANARY};",
            f"    * {STABLE};",
            "}",
            "map $runofshow_upstream $runofshow_track {",
            f"    {CANARY} canary;",
            "    default stable;",
            "}",
        ]
        target, track = "$runofshow_upstream", "$runofshow_track"
    else:
        target, track = (STABLE, "stable") if w == 0 else (CANARY, "canary")
    lines += [
        "server {",
        f"    listen {settings.listen};",
        "    location / {",
        f"        proxy_pass http://{target};",
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        f"        add_header X-Canary-Track {track} always;",
        f"        add_header X-Canary-Weight {shown} always;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def read_weight(text: str) -> float | None:
    """The weight in a rendered file's header, or None when there is none."""
    match = _HEADER_RE.search(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0.0 <= value <= 100.0 else None


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _nginx_message(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    worst = [ln for ln in lines if "[emerg]" in ln or "[alert]" in ln or "[error]" in ln
             or "[crit]" in ln]
    return "; ".join(worst or lines) or f"exit status {proc.returncode}"


class NginxFileRouter:
    """`TrafficRouter` that rewrites an nginx include file and reloads nginx."""

    def __init__(self, settings: NginxFileRouterSettings) -> None:
        self.settings = settings
        self.path = Path(settings.config_path)
        self._lock = threading.Lock()
        render(settings, 50)  # fail closed at load time: bad listen, split_key or server lists

    def command(self, *args: str) -> list[str]:
        s = self.settings
        cmd = [s.nginx_bin]
        if s.nginx_prefix:
            cmd += ["-p", s.nginx_prefix]
        if s.nginx_conf:
            cmd += ["-c", s.nginx_conf]
        if s.nginx_error_log:
            cmd += ["-e", s.nginx_error_log]
        return cmd + list(args)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = self.command(*args)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  timeout=self.settings.command_timeout_s)
        except (OSError, subprocess.SubprocessError) as e:
            raise RouterError(f"nginx file: cannot run {' '.join(cmd)}: {e}", adapter=ADAPTER,
                              target=str(self.path)) from e

    def _put_back(self, old: bytes | None, mode: int, error: RouterError) -> None:
        """Restore the previous file (or its absence); if even that fails, say so in `error`."""
        try:
            if old is None:
                self.path.unlink(missing_ok=True)
            else:
                _write_atomically(self.path, old, mode)
        except OSError as e:
            error.message = f"{error.message}; AND restoring the previous {self.path} failed: {e}"
            error.args = (error.message,)

    def set_weight(self, weight: float) -> None:
        w = grid_weight(weight)
        new = render(self.settings, w).encode()
        with self._lock:
            try:
                old = self.path.read_bytes() if self.path.exists() else None
                mode = self.path.stat().st_mode & 0o777 if old is not None else 0o644
                if old == new:
                    return
                _write_atomically(self.path, new, mode)
            except OSError as e:
                raise RouterError(f"nginx file: cannot write {self.path}: {e}", adapter=ADAPTER,
                                  target=str(self.path)) from e
            for step in (("-t",), ("-s", "reload")):
                try:
                    proc = self._run(*step)
                except RouterError as e:
                    self._put_back(old, mode, e)
                    raise
                if proc.returncode != 0:
                    error = RouterError(
                        f"nginx file: `nginx {' '.join(step)}` failed for {format_weight(w)} %, the "
                        f"previous config is back in place: {_nginx_message(proc)}",
                        adapter=ADAPTER, target=str(self.path),
                    )
                    self._put_back(old, mode, error)
                    raise error

    def current_weight(self) -> float:
        try:
            text = self.path.read_text()
        except OSError as e:
            raise RouterError(f"nginx file: cannot read {self.path} (nothing set yet?): {e}",
                              adapter=ADAPTER, target=str(self.path)) from e
        weight = read_weight(text)
        if weight is None:
            raise RouterError(f"nginx file: {self.path} has no '{HEADER.strip()}' line",
                              adapter=ADAPTER, target=str(self.path))
        return weight


__all__ = ["NginxFileRouter", "format_weight", "grid_weight", "read_weight", "render"]
