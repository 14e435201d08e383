#!/usr/bin/env bash
# Creates the project's virtualenv. On a fresh Debian/Ubuntu machine python3-venv may be missing:
# install it with apt-get (as root, or through sudo) and try again.
set -euo pipefail
python="${1:-python3}"
venv="${2:-.venv}"
[ -x "$venv/bin/python" ] && [ -x "$venv/bin/pip" ] && exit 0
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "runofshow needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing python3-venv with apt-get" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv python3-dev >/dev/null
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -U pip
