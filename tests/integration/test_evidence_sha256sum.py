"""The evidence manifest is checked by the real `sha256sum -c`, as an auditor would."""

from __future__ import annotations

import shutil
import subprocess

from runofshow.reports.evidence import MANIFEST, write_manifest


def test_sha256sum_checks_the_manifest_and_finds_a_changed_file(tmp_path):
    sha256sum = shutil.which("sha256sum")
    assert sha256sum, "sha256sum (coreutils) is needed"
    (tmp_path / "a.txt").write_text("ay\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.csv").write_text("1,2\n")
    write_manifest(tmp_path)
    check = [sha256sum, "--quiet", "-c", MANIFEST]
    assert subprocess.run(check, cwd=tmp_path, capture_output=True, check=False).returncode == 0
    (tmp_path / "sub" / "c.csv").write_text("1,3\n")
    changed = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert changed.returncode == 1 and "sub/c.csv: FAILED" in changed.stdout
