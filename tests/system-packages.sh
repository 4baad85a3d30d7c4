#!/usr/bin/env bash
# Debian packages the test suite drives as real servers and clients: headless Chromium
# (browser tests of `nexuslims serve`) and PostgreSQL 15 (database tests on a real server).
# Installs what is missing when run as root with apt-get; otherwise says what is missing,
# and the tests that need it skip with that reason.
set -euo pipefail
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || packages+=(postgresql)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    # The Debian package starts a cluster of its own; the tests start their own on free ports.
    if command -v pg_ctlcluster >/dev/null; then
        for cluster in /etc/postgresql/*/main; do
            [ -d "$cluster" ] && pg_ctlcluster "$(basename "$(dirname "$cluster")")" main stop 2>/dev/null || true
        done
    fi
else
    echo "tests/system-packages.sh: not root or no apt-get; missing: ${packages[*]} (their tests will skip)" >&2
fi
