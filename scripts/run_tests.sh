#!/usr/bin/env bash
# Runs the whole test suite. Fails loudly when pytest selects no test (pytest exit 5).
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "ERROR: pytest selected no test; refusing to report success." >&2
    exit 1
fi
exit "$status"
