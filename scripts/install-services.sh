#!/usr/bin/env bash
# Installs the real services the integration and e2e tests run against, from Debian packages:
# Prometheus, Alertmanager (with amtool), nginx, Chromium, hey, wrk and kubectl (kustomize is
# built in). Idempotent: installs only what is missing, runs `apt-get update` first only when
# something is missing, quiet and non-interactive.
# PostgreSQL's server runs on the machine at 127.0.0.1:5432 (not started here); its Debian package
# is installed for its binaries: the PostgreSQL-restart test starts a private cluster of its own
# from /usr/lib/postgresql/*/bin (initdb, postgres) and never touches the machine's.
set -euo pipefail

PACKAGES=(prometheus prometheus-alertmanager nginx-light chromium hey wrk kubectl postgresql)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-services: installing ${missing[*]}" >&2
"${SUDO[@]}" apt-get update -qq >/dev/null
# Keep the packages' own system services from starting (we start our own, on free loopback ports).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${SUDO[@]}" apt-get install -y -qq \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" >/dev/null

compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
  echo "install-services: PostgreSQL's initdb is still missing after apt-get install" >&2
  exit 1
}
for bin in prometheus prometheus-alertmanager amtool nginx chromium hey wrk kubectl; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || {
    echo "install-services: $bin is still missing after apt-get install" >&2
    exit 1
  }
done
