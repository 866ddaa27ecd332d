"""Redis state store: shared by every process and machine that reaches the server.

A record is a hash at `rewardsmith:state:<n>:<namespace>:<key>`, n being the length of
the namespace in characters, so two (namespace, key) pairs never share a Redis key
whatever characters they contain.

Guarantees: a batch is one EVALSHA of a Lua script, which Redis runs atomically: no
other client sees part of a batch or interleaves with it, so concurrent writers never
lose an update. `read` is one MULTI/EXEC pipeline, a consistent snapshot. The script
computes in doubles, like Python, SQLite and the memory store, and stores 17
significant digits, which read back exactly (HINCRBYFLOAT is not used: it adds in long
double and rounds to 17 digits, which differs from a double sum in the last bit for
about a third of sums). Persistence is the server's (RDB/AOF) configuration.

Commands are not retried, because a retried batch could be applied twice; a
ConnectionError from `apply` (a timeout, say) leaves it unknown whether the batch was
applied. A batch touches many keys in one script, so Redis Cluster is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rewardsmith.state.store import URL_FORMS, Record, StateStore, Update, redacted

PREFIX = "rewardsmith:state:"
SCAN_BATCH = 1000
# KEYS: one record per update. ARGV, per record: the number of changes, then
# (op, field, value) for each change, in order.
APPLY_LUA = """
local pos = 1
for _, key in ipairs(KEYS) do
    local count = tonumber(ARGV[pos])
    pos = pos + 1
    for _ = 1, count do
        local op, field, value = ARGV[pos], ARGV[pos + 1], tonumber(ARGV[pos + 2])
        pos = pos + 3
        local old = tonumber(redis.call('HGET', key, field))
        if old ~= nil then
            if op == 'add' then
                value = old + value
            elseif op == 'minimum' then
                value = math.min(old, value)
            elseif op == 'maximum' then
                value = math.max(old, value)
            end
        end
        redis.call('HSET', key, field, string.format('%.17g', value))
    end
end
return #KEYS
"""


class RedisStore(StateStore):
    """Records as Redis hashes; the server must answer when the store is opened."""

    def __init__(self, url: str, connect_timeout: float = 5.0, timeout: float = 30.0) -> None:
        self.url = url
        try:
            self._client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=connect_timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise ValueError(
                f"Redis state store URL {redacted(url)!r} is not valid ({exc}); "
                f"expected one of {URL_FORMS}"
            ) from exc
        self._apply_script = self._client.register_script(APPLY_LUA)
        try:
            with self._reaching():
                self._client.ping()
        except ConnectionError:
            self._client.close()
            raise

    def __repr__(self) -> str:
        return f"RedisStore({redacted(self.url)!r})"

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise ConnectionError(
                f"cannot reach the Redis state store at {redacted(self.url)!r} ({exc}); "
                "expected a Redis server answering there"
            ) from exc

    def _read(self, namespace: str, keys: list[str]) -> dict[str, Record]:
        found = self._hashes([_record_key(namespace, key) for key in keys])
        return {key: fields for key, fields in zip(keys, found, strict=True) if fields}

    def _apply(self, updates: list[Update]) -> None:
        args: list[str | int] = []
        for update in updates:
            changes = update.changes()
            args.append(len(changes))
            for op, name, value in changes:
                args += [op, name, repr(value)]
        keys = [_record_key(update.namespace, update.key) for update in updates]
        with self._reaching():
            self._apply_script(keys=keys, args=args)

    def _scan(self, namespace: str) -> dict[str, Record]:
        head = _record_key(namespace, "")
        names = self._keys(_glob_escape(head) + "*")
        found = self._hashes(names)
        return {
            name[len(head) :]: fields for name, fields in zip(names, found, strict=True) if fields
        }

    def _clear(self, namespace: str | None) -> None:
        head = PREFIX if namespace is None else _record_key(namespace, "")
        names = self._keys(_glob_escape(head) + "*")
        with self._reaching():
            for start in range(0, len(names), SCAN_BATCH):
                self._client.unlink(*names[start : start + SCAN_BATCH])

    def _close(self) -> None:
        self._client.close()

    def _keys(self, pattern: str) -> list[str]:
        with self._reaching():
            return list(self._client.scan_iter(match=pattern, count=SCAN_BATCH))

    def _hashes(self, names: list[str]) -> list[Record]:
        with self._reaching():
            pipe = self._client.pipeline(transaction=True)
            for name in names:
                pipe.hgetall(name)
            found = pipe.execute()
        return [{field: float(value) for field, value in fields.items()} for fields in found]


def _record_key(namespace: str, key: str) -> str:
    return f"{PREFIX}{len(namespace)}:{namespace}:{key}"


def _glob_escape(text: str) -> str:
    return re.sub(r"[\\*?\[\]]", lambda match: "\\" + match.group(), text)
