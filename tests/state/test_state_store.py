"""Semantics of the state store, the same tests for every backend (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardsmith.state import StateStore, Update

# Pairs that a naive "namespace:key" join would confuse, glob metacharacters, unicode, NUL.
TRICKY = [
    ("a", "b:c"),
    ("a:b", "c"),
    ("1:a", "b"),
    ("1", "a:b"),
    ("n*", "k"),
    ("nx", "k"),
    ("n?", "k"),
    ("n[x]", "k"),
    ("n\\", "k"),
    ("ünïcødé/名前 ✓", "ключ/🔑"),
    ("ns\x00", "k\x00"),
    ("ns", "k"),
]


def test_add_minimum_maximum_assign(store: StateStore) -> None:
    store.apply([Update("s", "p", add={"n": 2, "sum": 0.5}, minimum={"lo": 3}, maximum={"hi": 3})])
    store.apply([Update("s", "p", add={"n": 1, "sum": -2}, minimum={"lo": 5}, maximum={"hi": 5})])
    store.apply([Update("s", "p", minimum={"lo": -1.5}, maximum={"hi": 4}, assign={"last": 7})])
    store.apply([Update("s", "p", assign={"last": 8})])
    assert store.read("s", ["p"]) == {
        "p": {"n": 3.0, "sum": -1.5, "lo": -1.5, "hi": 5.0, "last": 8.0}
    }


def test_changes_of_one_update_apply_assign_add_minimum_maximum_in_order(store: StateStore) -> None:
    store.apply(
        [Update("s", "p", assign={"x": 1}, add={"x": 5}, minimum={"x": 4}, maximum={"x": 2})]
    )
    assert store.read("s", ["p"]) == {"p": {"x": 4.0}}  # 1, then 6, then 4, then 4
    clipped = Update("s", "p", add={"x": 10}, minimum={"x": 9})
    store.apply([clipped, clipped])
    assert store.read("s", ["p"]) == {"p": {"x": 9.0}}


def test_a_batch_applies_in_order(store: StateStore) -> None:
    store.apply([Update("s", "a", assign={"x": 5}), Update("s", "a", add={"x": 1})])
    store.apply([Update("s", "b", add={"x": 1}), Update("s", "b", assign={"x": 5})])
    assert store.read("s", ["a", "b"]) == {"a": {"x": 6.0}, "b": {"x": 5.0}}


def test_values_are_floats(store: StateStore) -> None:
    store.apply([Update("s", "p", add={"i": 3, "np": np.float32(0.5)}, assign={"big": 2**60})])
    record = store.read("s", ["p"])["p"]
    assert record == {"i": 3.0, "np": 0.5, "big": float(2**60)}
    assert all(type(value) is float for value in record.values())


def test_keys_never_written_are_absent(store: StateStore) -> None:
    store.apply(
        [Update("s", "p", add={"n": 1}), Update("s", "empty"), Update("t", "q", add={"n": 1})]
    )
    assert store.read("s", ["p", "q", "empty", "never"]) == {"p": {"n": 1.0}}
    assert store.read("s", []) == {}
    assert store.read("never", ["p"]) == {}
    assert store.scan("s") == {"p": {"n": 1.0}}
    assert store.scan("never") == {}


def test_read_many_keys(store: StateStore) -> None:
    keys = [f"p{i}" for i in range(1200)]  # more than one SQLite chunk
    store.apply([Update("s", key, assign={"i": i}) for i, key in enumerate(keys)])
    assert store.read("s", [*keys, "absent"]) == {
        key: {"i": float(i)} for i, key in enumerate(keys)
    }


def test_tricky_names_never_collide(store: StateStore) -> None:
    store.apply([Update(ns, key, assign={"id": i}) for i, (ns, key) in enumerate(TRICKY)])
    for i, (ns, key) in enumerate(TRICKY):
        expected = {k: {"id": float(j)} for j, (n, k) in enumerate(TRICKY) if n == ns}
        assert store.scan(ns) == expected
        assert store.read(ns, [key]) == {key: {"id": float(i)}}


def test_clear_one_namespace_or_all(store: StateStore) -> None:
    store.apply([Update(ns, key, add={"n": 1}) for ns, key in TRICKY])
    store.clear("n*")
    assert store.scan("n*") == {}
    assert store.scan("nx") == {"k": {"n": 1.0}}
    assert store.scan("a:b") == {"c": {"n": 1.0}}
    store.clear("never written")
    store.clear()
    assert all(store.scan(ns) == {} for ns, _ in TRICKY)
    store.apply([Update("a", "b:c", add={"n": 1})])
    assert store.scan("a") == {"b:c": {"n": 1.0}}


BAD_UPDATES = [
    ({"namespace": ""}, "Update.namespace"),
    ({"namespace": 3}, "Update.namespace"),
    ({"namespace": "bad\ud800"}, "Update.namespace"),
    ({"key": None}, "Update.key"),
    ({"add": {"hits": float("nan")}}, "add['hits']"),
    ({"minimum": {"low": float("inf")}}, "minimum['low']"),
    ({"maximum": {"high": "3"}}, "maximum['high']"),
    ({"assign": {"flag": True}}, "assign['flag']"),
    ({"assign": {"z": complex(1, 0)}}, "assign['z']"),
    ({"add": {"": 1.0}}, "add field name"),
    ({"add": {7: 1.0}}, "add field name"),
    ({"add": [("hits", 1.0)]}, "add: expected a mapping"),
]


@pytest.mark.parametrize(("change", "named"), BAD_UPDATES)
def test_a_bad_update_is_rejected_naming_the_field(change: dict, named: str) -> None:
    with pytest.raises(ValueError, match="expected") as raised:
        Update(**{"namespace": "ns", "key": "k", **change})
    assert named in str(raised.value)


def test_an_update_keeps_a_copy_of_its_changes() -> None:
    add = {"n": 1}
    update = Update("ns", "k", add=add)
    add["n"] = 2
    add["m"] = 3
    assert dict(update.add) == {"n": 1.0}
    with pytest.raises(TypeError):
        update.add["n"] = 5  # type: ignore[index]


def test_a_bad_batch_writes_nothing(store: StateStore) -> None:
    good = Update("s", "p", add={"n": 1})
    with pytest.raises(TypeError, match=r"updates\[1\] is a dict"):
        store.apply([good, {"namespace": "s", "key": "p"}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="sequence of Update"):
        store.apply(good)  # type: ignore[arg-type]
    assert store.scan("s") == {}


def test_bad_names_in_read_scan_clear(store: StateStore) -> None:
    with pytest.raises(TypeError, match="sequence of keys"):
        store.read("s", "pk")
    with pytest.raises(ValueError, match=r"keys\[1\]"):
        store.read("s", ["p", ""])
    with pytest.raises(ValueError, match="namespace"):
        store.read("", ["p"])
    with pytest.raises(ValueError, match="namespace"):
        store.scan("")
    with pytest.raises(ValueError, match="namespace"):
        store.clear("")


def test_a_closed_store_refuses_work(store: StateStore) -> None:
    store.close()
    store.close()
    for call in (
        lambda: store.read("s", ["p"]),
        lambda: store.apply([Update("s", "p", add={"n": 1})]),
        lambda: store.scan("s"),
        lambda: store.clear(),
    ):
        with pytest.raises(ValueError, match="is closed"):
            call()


# The property test: any sequence of batches leaves the store equal to a plain Python fold.

names = st.text(min_size=1, max_size=4)
namespaces = st.sampled_from(["ns", "ns:k", "n*", "ünï", "a\x00"]) | names
keys = st.sampled_from(["k", "k:1", "1:k", "[k]"]) | names
fields = st.sampled_from(["f", "g", "f:g"]) | st.text(min_size=1, max_size=2)
values = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000)
changes = st.dictionaries(fields, values, max_size=3)
updates = st.builds(
    Update, namespaces, keys, add=changes, minimum=changes, maximum=changes, assign=changes
)
batches = st.lists(st.lists(updates, max_size=6), max_size=6)

Model = dict[str, dict[str, dict[str, float]]]


def fold(batches: Iterable[list[Update]]) -> Model:
    model: Model = {}
    for update in (update for batch in batches for update in batch):
        record = dict(model.get(update.namespace, {}).get(update.key, {}))
        record.update(update.assign)
        for name, value in update.add.items():
            record[name] = record.get(name, 0.0) + value
        for name, value in update.minimum.items():
            record[name] = min(record.get(name, value), value)
        for name, value in update.maximum.items():
            record[name] = max(record.get(name, value), value)
        if record:
            model.setdefault(update.namespace, {})[update.key] = record
    return model


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches)
def test_any_sequence_of_batches_equals_a_python_fold(
    store: StateStore, batches: list[list[Update]]
) -> None:
    store.clear()
    for batch in batches:
        store.apply(batch)
    model = fold(batches)
    touched = {update.namespace for batch in batches for update in batch}
    for namespace in touched:
        assert store.scan(namespace) == model.get(namespace, {})
        written = [update.key for batch in batches for update in batch]
        assert store.read(namespace, [*written, "never"]) == model.get(namespace, {})
