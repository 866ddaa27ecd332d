#!/usr/bin/env bash
# Runs a command with a throwaway redis-server for the Redis tests, and exits with the
# command's status: installs redis-server with apt-get when it is missing (as root, as
# on CI), starts it on a free loopback port with no persistence in a temporary
# directory, exports REWARDSMITH_TEST_REDIS=redis://127.0.0.1:PORT/0, runs the command
# and always stops the server. With REWARDSMITH_TEST_REDIS already set it only runs the
# command. Where redis-server can be neither found nor installed it warns and runs the
# command without it (tests/state then skips the Redis tests, or fails them under CI=true).
# Usage: scripts/with_test_redis.sh COMMAND [ARG...]
set -uo pipefail

if [ -n "${REWARDSMITH_TEST_REDIS:-}" ]; then
    exec "$@"
fi

install_redis() {
    local log
    log=$(mktemp)
    echo "Installing redis-server with apt-get for the Redis tests..." >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq redis-server >"$log" 2>&1; then
        # A fresh machine has no package lists yet.
        if ! { apt-get update -qq && apt-get install -y -qq redis-server; } >>"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            echo "ERROR: could not install redis-server with apt-get." >&2
            exit 1
        fi
    fi
    rm -f "$log"
}

if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        install_redis
    else
        echo "WARNING: no redis-server, and installing one needs root and apt-get;" \
            "running without it." >&2
        exec "$@"
    fi
fi

workdir=$(mktemp -d)
redis_pid=""
stop_redis() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
        redis_pid=""
    fi
}
trap 'stop_redis; rm -rf "$workdir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts redis-server on $1; succeeds once it answers PING, fails if it exits first
# (the port was taken) or stays silent for 10 s.
start_redis() {
    redis-server --bind 127.0.0.1 --port "$1" --dir "$workdir" --save '' --appendonly no \
        --daemonize no >"$workdir/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 100); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; then
            return 0
        fi
        if ! kill -0 "$redis_pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    stop_redis
    return 1
}

for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    if start_redis "$port"; then
        export REWARDSMITH_TEST_REDIS="redis://127.0.0.1:$port/0"
        "$@"
        exit $?
    fi
done
cat "$workdir/redis.log" >&2
echo "ERROR: redis-server did not start for the tests." >&2
exit 1
