#!/usr/bin/env bash
# Runs the whole test suite, with a throwaway redis-server for the Redis tests (see
# with_test_redis.sh). Fails loudly when pytest selects no test (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
# Debian's Chromium for the report's browser test (tests/report/test_browser.py), installed
# when missing and possible (as root with apt-get, as on CI); else that test is skipped
# (failed under CI=true).
if ! command -v chromium >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "Installing chromium with apt-get for the report's browser test..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq chromium; } >/dev/null 2>&1 \
        || echo "WARNING: could not install chromium with apt-get." >&2
fi
bash scripts/with_test_redis.sh .venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "ERROR: pytest selected no test; refusing to report success." >&2
    exit 1
fi
exit "$status"
