"""Local commands through `subprocess` (the preflight's backup check)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence

from runofshow.errors import AdapterError
from runofshow.ports import CommandResult


class LocalCommandRunner:
    """A `CommandRunner`: each command in its own process group, so that on timeout the whole group
    is killed and a pipeline's children cannot keep it waiting."""

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        try:
            proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
        except OSError as err:
            raise AdapterError(str(err), adapter="subprocess", target=str(argv[0] if argv else "")) from None
        try:
            out, err_text = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err_text = proc.communicate()
            return CommandResult(None, out or "", err_text or "")
        return CommandResult(proc.returncode, out or "", err_text or "")
