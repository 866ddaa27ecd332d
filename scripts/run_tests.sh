#!/usr/bin/env bash
# Runs the whole test suite, with a throwaway redis-server for the Redis tests (see
# with_test_redis.sh). Fails loudly when pytest selects no test (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
# Debian's Chromium for the report's browser test (tests/report/test_browser.py) and
# Debian's prometheus for promtool (tests/report/test_monitor.py), installed when missing
# and possible (as root with apt-get, as on CI); else those tests are skipped (failed
# under CI=true).
install_debian() {  # COMMAND PACKAGE [APT-GET OPTION...]
    local command=$1 package=$2
    shift 2
    if command -v "$command" >/dev/null || [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null
    then
        return
    fi
    echo "Installing $package with apt-get for the report's tests..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$@" "$package" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq "$@" "$package"; } >/dev/null 2>&1 \
        || echo "WARNING: could not install $package with apt-get." >&2
}
install_debian chromium chromium
install_debian promtool prometheus --no-install-recommends
bash scripts/with_test_redis.sh .venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "ERROR: pytest selected no test; refusing to report success." >&2
    exit 1
fi
exit "$status"
