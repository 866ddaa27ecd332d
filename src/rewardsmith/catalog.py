"""What the registry knows about its components, as data for people and editors: the
families, each component's parameters (from its Params JSON schema, with the docstrings'
notes where a field has no description), a minimal example node, and a JSON Schema of
reward YAML files."""

from __future__ import annotations

import inspect
import re
from typing import Any

from rewardsmith import api  # noqa: F401  (registers the built-in components)
from rewardsmith.core.component import Component
from rewardsmith.core.config import REGISTRY
from rewardsmith.core.pipeline import RewardFile

FAMILIES = {
    "verify": "verifiers (rule-based correctness)",
    "judge": "judges (an LLM grades)",
    "shaping": "shaping (length, transforms, constraints)",
    "process": "process rewards (per step)",
    "noise": "noise correction",
    "core": "combinators",
}
PART = {"type": "math"}
PARTS = [{"type": "math"}, {"type": "format"}]
NODE = {"$ref": "#/$defs/node"}
JUDGE = {"base_url": "http://127.0.0.1:8000/v1", "model": "my-judge-model"}
RUBRIC = {
    "name": "helpful",
    "principles": [{"name": "accuracy", "type": "core", "description": "Claims are true."}],
}
EXAMPLE_VALUES: dict[str, Any] = {
    "condition": {"type": "format"},
    "rubric": RUBRIC,
    "constraints": [{"of": {"type": "format"}, "threshold": 0.5}],
    "model": "path/to/local/model",
    "function": "rewards:concise",  # examples/custom/rewards.py, beside the reward file
}
# kinds whose minimal node needs one of several optional settings
EXAMPLE_CHOICES: dict[str, dict[str, Any]] = {
    "reward_model": {"url": "http://127.0.0.1:8000", "protocol": "vllm_classify"},
    "self_certainty": {"vocab_size": 32000},
}


def family(cls: type[Component]) -> str:
    """The family of a component: the package it lives in (verify, judge, ...)."""
    parts = cls.__module__.split(".")
    if parts[0] != "rewardsmith" or len(parts) < 3:
        return "registered by your code"
    return FAMILIES.get(parts[1], parts[1])


def families() -> dict[str, list[tuple[str, str]]]:
    """(name, first docstring line) of every component, by family in FAMILIES order."""
    grouped: dict[str, list[tuple[str, str]]] = {label: [] for label in FAMILIES.values()}
    for kind, cls in sorted(REGISTRY.items()):
        first = (cls.__doc__ or "").strip().split("\n\n")[0]
        grouped.setdefault(family(cls), []).append((kind, " ".join(first.split())))
    return {label: members for label, members in grouped.items() if members}


def parameters(cls: type[Component]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description or '') of each parameter, the common keys first."""
    schema = cls.Params.model_json_schema()
    rows = [
        ("type", "string", "required", f"{cls.kind!r}"),
        ("name", "string", repr(cls.kind), "how it appears in the output's `components`"),
        ("fallback", "number", "0.0", "the reward when the check fails or times out"),
    ]
    docs = _docs(cls)
    for name, field in cls.Params.model_fields.items():
        prop = schema["properties"].get(name, {})
        default = (
            "required"
            if field.is_required()
            else _shown(field.get_default(call_default_factory=True))
        )
        note = prop.get("description") or _note(docs, name)
        rows.append((name, _type(prop, schema), default, note))
    return rows


def example(kind: str) -> dict[str, Any]:
    """A minimal node of `kind` that builds: its required parameters filled in."""
    cls = REGISTRY[kind]
    node: dict[str, Any] = {"type": kind}
    for name, field in cls.Params.model_fields.items():
        if name == "judge":
            node[name] = JUDGE
        elif field.is_required():
            annotation = str(field.annotation)
            default = PARTS if annotation.startswith("list[") else PART
            node[name] = EXAMPLE_VALUES.get(name, default)
    return {**node, **EXAMPLE_CHOICES.get(kind, {})}


def reward_file_schema() -> dict[str, Any]:
    """A JSON Schema of reward YAML files: the top level, and a node of every component
    (chosen by `type`; nested parts are nodes again)."""
    nodes = []
    defs: dict[str, Any] = {}
    for kind, cls in sorted(REGISTRY.items()):
        schema = cls.Params.model_json_schema(ref_template="#/$defs/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            defs[name] = {**sub, "properties": _linked(sub.get("properties", {}))}
        properties = {
            "type": {"const": kind},
            "name": {"type": "string", "minLength": 1},
            "fallback": {"type": "number"},
            **_linked(schema.get("properties", {})),
        }
        nodes.append(
            {
                "title": kind,
                "description": (cls.__doc__ or "").strip().split("\n")[0],
                "type": "object",
                "properties": properties,
                "required": ["type", *schema.get("required", [])],
                "additionalProperties": False,
            }
        )
    defs["node"] = {"anyOf": [{"type": "string", "enum": sorted(REGISTRY)}, *nodes]}
    top = RewardFile.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(top.pop("$defs", {}))
    top["properties"]["reward"] = {"$ref": "#/$defs/node", "description": "the reward tree"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "rewardsmith reward file",
        **top,
        "$defs": defs,
    }


def _linked(properties: dict[str, Any]) -> dict[str, Any]:
    """Properties with every `Any` (a part of the tree) made a reference to a node."""
    return {name: _link(prop) for name, prop in properties.items()}


def _link(prop: dict[str, Any]) -> dict[str, Any]:
    if prop.get("type") == "array" and not _typed(prop.get("items", {})):
        return {**prop, "items": NODE}
    if _typed(prop):
        return prop
    if "default" in prop and prop["default"] is None:
        return {**prop, "anyOf": [NODE, {"type": "null"}]}
    return {**prop, **NODE}


def _typed(prop: dict[str, Any]) -> bool:
    return any(key in prop for key in ("type", "$ref", "anyOf", "enum", "const", "allOf"))


def _type(prop: dict[str, Any], schema: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(repr(value) for value in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(_type(option, schema) for option in prop["anyOf"])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    kind = prop.get("type")
    if kind == "array":
        return f"list[{_type(prop.get('items', {}), schema)}]"
    if kind == "object":
        return "mapping"
    return {
        "number": "float",
        "integer": "int",
        "boolean": "bool",
        "string": "str",
        "null": "None",
    }.get(kind, "component node")


def _shown(value: Any) -> str:
    if isinstance(value, list | dict) and not value:
        return "[]" if isinstance(value, list) else "{}"
    return repr(value)


def _docs(cls: type[Component]) -> str:
    """The docstrings that describe a component's parameters."""
    parts = [cls.Params.__doc__, cls.__doc__, inspect.getmodule(cls).__doc__]
    return "\n".join(" ".join(part.split()) for part in parts if part)


def _note(docs: str, name: str) -> str:
    """The clause of the docs that names `name` in backticks followed by a colon."""
    match = re.search(rf"`{re.escape(name)}`\s*(?:\([^)]*\))?\s*:\s*([^;]+?)(?:;|\.\s|$)", docs)
    return match.group(1).strip() if match else ""
