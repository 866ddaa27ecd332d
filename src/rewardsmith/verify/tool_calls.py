"""Reading tool calls: from a completion's text (Hermes/Qwen `<tool_call>` blocks), from
OpenAI-style `tool_calls` on the sample or in its chat messages, and from a reference.

A call is `ToolCall(name, arguments)`. In text, each `<tool_call>...</tool_call>` block
holds one JSON object, a JSON list of them, or one object per line (as ToolRL writes
them); an object names the tool in `name` and its arguments in `arguments` (an object,
or a JSON string of one, as OpenAI sends them) or `parameters` (ToolRL). Blocks inside
`<think>...</think>` are not calls (they are counted, not scored). The text is scanned
once, left to right, with bounded sizes, so a hostile completion costs linear time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rewardsmith.core.component import InvalidSample
from rewardsmith.core.types import Sample

OPEN, CLOSE = "<tool_call>", "</tool_call>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
MAX_CALLS = 32  # more than this in one completion is malformed, not scored
MAX_CALL_CHARS = 20_000  # per block
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


def call_key(call: ToolCall) -> str:
    """What makes two calls the same call: the tool and its arguments, as JSON."""
    return call.name + "\0" + json.dumps(call.arguments, sort_keys=True, default=str)


@dataclass
class ReadCalls:
    """The calls a completion makes, or why they are malformed (`problem`)."""

    calls: list[ToolCall] = field(default_factory=list)
    problem: str = ""
    in_reasoning: int = 0  # blocks inside <think>, ignored


def calls_of_sample(sample: Sample) -> ReadCalls:
    """The sample's calls: its `tool_calls` field, else the `tool_calls` of the assistant
    messages of its `messages` after the last user message, else its completion text."""
    extra = sample.model_extra or {}
    if extra.get("tool_calls") is not None:
        return _structured(extra["tool_calls"], "tool_calls")
    messages = extra.get("messages")
    if isinstance(messages, list) and messages:
        return _calls_of_messages(messages)
    return calls_in_text(sample.completion)


def calls_in_text(text: str) -> ReadCalls:
    """Every `<tool_call>` block outside `<think>` regions, parsed."""
    read = ReadCalls()
    position = 0
    while True:
        start = text.find(OPEN, position)
        if start < 0:
            break
        think = text.rfind(THINK_OPEN, position, start)
        if think >= 0 and text.find(THINK_CLOSE, think, start) < 0:  # inside reasoning
            end_of_think = text.find(THINK_CLOSE, start)
            read.in_reasoning += 1
            if end_of_think < 0:
                return _malformed(read, "a <tool_call> inside an unclosed <think>")
            position = end_of_think + len(THINK_CLOSE)
            continue
        end = text.find(CLOSE, start + len(OPEN))
        if end < 0:
            return _malformed(read, "an unclosed <tool_call>")
        body = text[start + len(OPEN) : end]
        if len(body) > MAX_CALL_CHARS:
            return _malformed(read, f"a <tool_call> block over {MAX_CALL_CHARS} characters")
        problem = _parse_block(body.strip(), read.calls)
        if problem:
            return _malformed(read, problem)
        position = end + len(CLOSE)
    if text.find(CLOSE, position) >= 0:
        return _malformed(read, "a </tool_call> without its <tool_call>")
    return read


def _malformed(read: ReadCalls, problem: str) -> ReadCalls:
    return ReadCalls(calls=[], problem=problem, in_reasoning=read.in_reasoning)


def _parse_block(body: str, calls: list[ToolCall]) -> str:
    """Append the block's calls to `calls`; '' or what is wrong with it."""
    try:
        objects = _loads(body)
        objects = objects if isinstance(objects, list) else [objects]
    except ValueError:
        objects = []
        for line in body.splitlines():  # one object per line (ToolRL)
            if line.strip():
                try:
                    objects.append(_loads(line))
                except ValueError as exc:
                    return f"a <tool_call> block that is not JSON ({exc})"
    if not objects:
        return "an empty <tool_call> block"
    for item in objects:
        call, problem = to_call(item, f"call {len(calls) + 1}")
        if problem:
            return problem
        calls.append(call)
        if len(calls) > MAX_CALLS:
            return f"more than {MAX_CALLS} calls"
    return ""


def _loads(text: str) -> Any:
    """JSON, refusing nesting deeper than MAX_JSON_DEPTH (cheap to check: a bracket
    count; deep nesting would otherwise reach the recursion limit)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH}")
    return json.loads(text)


def to_call(item: Any, where: str) -> tuple[ToolCall, str]:
    """A call from `{"name", "arguments" | "parameters"}` or OpenAI's `{"function":
    {"name", "arguments"}}`; (call, '') or (placeholder, what is wrong)."""
    empty = ToolCall("", {})
    if isinstance(item, Mapping) and isinstance(item.get("function"), Mapping):
        item = item["function"]
    if not isinstance(item, Mapping):
        return empty, f"{where}: expected a JSON object, got {type(item).__name__}"
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return empty, f"{where}: expected a tool name in 'name'"
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):  # OpenAI sends the arguments as a JSON string
        try:
            arguments = _loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            return empty, f"{where}: 'arguments' is not JSON ({exc})"
    if not isinstance(arguments, Mapping):
        return empty, f"{where}: expected the arguments as a JSON object"
    return ToolCall(name, dict(arguments)), ""


def _structured(items: Any, field_name: str) -> ReadCalls:
    if not isinstance(items, list):
        return ReadCalls(problem=f"{field_name}: expected a list of calls")
    if len(items) > MAX_CALLS:
        return ReadCalls(problem=f"{field_name}: more than {MAX_CALLS} calls")
    read = ReadCalls()
    for index, item in enumerate(items):
        call, problem = to_call(item, f"{field_name}[{index}]")
        if problem:
            return ReadCalls(problem=problem)
        read.calls.append(call)
    return read


def _calls_of_messages(messages: list[Any]) -> ReadCalls:
    last_user = max(
        (i for i, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "user"),
        default=-1,
    )
    read = ReadCalls()
    for index, message in enumerate(messages[last_user + 1 :], start=last_user + 1):
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        if message.get("tool_calls"):
            part = _structured(message["tool_calls"], f"messages[{index}].tool_calls")
        else:
            part = calls_in_text(str(message.get("content") or ""))
        if part.problem:
            return ReadCalls(problem=part.problem, in_reasoning=read.in_reasoning)
        read.calls += part.calls
        read.in_reasoning += part.in_reasoning
    if len(read.calls) > MAX_CALLS:
        return ReadCalls(problem=f"messages: more than {MAX_CALLS} calls")
    return read


def reference_calls(reference: Any) -> tuple[list[ToolCall], list[Mapping[str, Any]], str]:
    """(gold calls, tool specs, order) from `{"calls": [...], "tools": [...], "order":
    "any" | "exact"}` or a bare list of calls; InvalidSample naming the field if not."""
    if isinstance(reference, list):
        reference = {"calls": reference}
    if not isinstance(reference, Mapping) or not isinstance(reference.get("calls"), list):
        raise InvalidSample(
            "reference: expected {'calls': [{'name': ..., 'arguments': {...}}, ...], "
            f"'tools': [...], 'order': 'any' | 'exact'}} or a list of calls, got "
            f"{repr(reference)[:100]}"
        )
    calls = []
    for index, item in enumerate(reference["calls"]):
        call, problem = to_call(item, f"reference.calls[{index}]")
        if problem:
            raise InvalidSample(problem)
        calls.append(call)
    tools = reference.get("tools") or []
    if not isinstance(tools, list) or not all(isinstance(tool, Mapping) for tool in tools):
        raise InvalidSample("reference.tools: expected a list of tool specs (JSON objects)")
    order = reference.get("order", "any")
    if order not in ("any", "exact"):
        raise InvalidSample(f"reference.order: expected 'any' or 'exact', got {order!r}")
    return calls, tools, order
