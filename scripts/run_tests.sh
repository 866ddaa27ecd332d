#!/usr/bin/env bash
# Runs the whole test suite, with a throwaway redis-server for the Redis tests (see
# with_test_redis.sh). Fails loudly when pytest selects no test (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/with_test_redis.sh .venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "ERROR: pytest selected no test; refusing to report success." >&2
    exit 1
fi
exit "$status"
