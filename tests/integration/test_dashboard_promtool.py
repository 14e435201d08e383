"""The war-room dashboard's queries are valid PromQL, as `promtool` reads them."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from runofshow.domain.plan import Plan
from runofshow.reports.dashboard import dashboard
from tests.unit.reports.test_dashboard import _exprs


def test_every_query_is_valid_promql(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus, scripts/install-services.sh) is needed"
    exprs = [e.replace("$__rate_interval", "1m") for e in _exprs(dashboard(Plan()))]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"runofshow:panel_query_{i}", "expr": e} for i, e in enumerate(exprs)
    ]}]}
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
