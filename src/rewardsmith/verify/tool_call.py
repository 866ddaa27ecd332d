"""`tool_call`: the ToolRL reward for tool calls (Qian et al., "ToolRL: Reward is All
Tool Learning Needs", arXiv 2504.13958, Sec. 3.2).

Predicted calls (read by tool_calls.py) are matched one-to-one with the gold calls;
only calls to the same tool can be paired, and a predicted call whose arguments break
its tool's JSON Schema (when the reference lists `tools`) pairs with nothing. The
paper's correctness score is

    S = J(names) + sum over paired gold calls g [ J(keys(g), keys(p)) + #{k in keys(g):
        p[k] == g[k]} ],     S_max = 1 + sum over gold calls (1 + |keys(g)|)

where J is the Jaccard index of multisets, |A & B| / (|A| + |B| - |A & B|), so a
duplicated or extra call lowers J(names) and earns nothing twice; by default
(`duplicates: malformed`) a call made identically more often than the gold makes it
scores as malformed (a repeated call with side effects does harm). J alone still pays
for shotgun calls (the same tool called with several guesses at its arguments: one
pairs and earns its values, the rest cost only a share of J(names)), so by default
(`extra_calls: count`) every unpaired predicted call also adds 1 + its number of
arguments to S_max, as a missed gold call would; `extra_calls: paper` keeps the
paper's S_max. With `order: any`
the pairing maximises S (the paper's optimal matching, exact here); with `order:
exact` the i-th predicted call is paired with the i-th gold call. `scale: toolrl`
gives the paper's reward, R_format + 6 * S / S_max - 3 in [-3, 4] (R_format 1 for
well-formed calls; malformed calls give -3 + 0); `scale: unit` (the default) gives S /
S_max in [0, 1], 0 for malformed calls. A reference with no calls pays for making none.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import jsonschema

from rewardsmith.core.component import InvalidSample, Params, SampleComponent, require_reference
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.tool_calls import ToolCall, call_key, calls_of_sample, reference_calls

PARTS = ("name", "param_names", "param_values", "schema")  # named components besides
EXACT_PAIRING_LIMIT = 6  # calls of one tool paired exactly (DP over subsets) up to this


class ToolCallParams(Params):
    scale: Literal["unit", "toolrl"] = "unit"
    extra_calls: Literal["count", "paper"] = "count"
    duplicates: Literal["malformed", "count"] = "malformed"


@register("tool_call")
class ToolCallVerifier(SampleComponent):
    """ToolRL correctness of the completion's tool calls against the gold calls."""

    Params = ToolCallParams
    params: ToolCallParams

    def score_sample(self, sample: Sample) -> Score:
        gold, tools, order = reference_calls(require_reference(sample, "the gold tool calls"))
        validators = _validators(tools)
        read = calls_of_sample(sample)
        info: dict[str, Any] = {"gold_calls": len(gold), "calls_in_reasoning": read.in_reasoning}
        if read.problem:
            info.update(calls=0, format=0.0, reason=read.problem, code="malformed_call")
            return self._score(0.0, info)
        calls = read.calls
        repeated = _repeated_beyond_gold(gold, calls)
        if repeated and self.params.duplicates == "malformed":
            info.update(
                calls=len(calls),
                format=0.0,
                reason=f"the same call made more often than the gold makes it: {repeated}",
                code="duplicate_call",
            )
            return self._score(0.0, info)
        valid = [_valid(call, validators) for call in calls]
        invalid = [f"{call.name}: {why}" for call, why in zip(calls, valid, strict=True) if why]
        parts = correctness(
            gold, calls, [not why for why in valid], order, self.params.extra_calls == "count"
        )
        info.update(
            calls=len(calls),
            format=1.0,
            name=parts["name"],
            param_names=parts["param_names"],
            param_values=parts["param_values"],
            schema=1.0 - len(invalid) / len(calls) if calls else 1.0,
            paired=parts["paired"],
            duplicates=sum(n - 1 for n in Counter(map(call_key, calls)).values()),
            correctness=parts["score"] / parts["max"],
        )
        if invalid:
            info["invalid_arguments"] = invalid[:5]
        if parts["score"] < parts["max"]:
            info["code"] = "wrong_calls" if calls or not gold else "no_call"
        return self._score(parts["score"] / parts["max"], info)

    def _score(self, fraction: float, info: dict[str, Any]) -> Score:
        """The reward on the asked scale, with each part a named component: `format`,
        `correctness`, and for well-formed calls `name`, `param_names`, `param_values`
        and `schema`."""
        well_formed = info["format"]
        if self.params.scale == "toolrl":
            value = well_formed + (6.0 * fraction - 3.0 if well_formed else -3.0)
        else:
            value = fraction if well_formed else 0.0
        score = Score(value, info=info)
        parts = {"format": well_formed, "correctness": fraction if well_formed else 0.0}
        parts |= {key: info[key] for key in PARTS if key in info}
        for part, part_value in parts.items():
            score.components[f"{self.name}.{part}"] = part_value
        return score


def correctness(
    gold: Sequence[ToolCall],
    calls: Sequence[ToolCall],
    usable: Sequence[bool],
    order: str,
    count_extra: bool = True,
) -> dict[str, Any]:
    """The paper's S and S_max, with its parts: `name` J(names), `param_names` the mean
    key Jaccard over gold calls, `param_values` the share of gold values matched. With
    `count_extra`, every predicted call left unpaired adds 1 + its number of arguments
    to S_max, as a missed gold call would: calls made in the hope that one of them is
    right then cost more than they can earn."""
    maximum = 1 + sum(1 + len(call.arguments) for call in gold)
    if not gold:  # nothing to call: paid for calling nothing
        none = float(not calls)
        return {"score": none, "max": 1.0, "name": none, "param_names": 1.0,
                "param_values": 1.0, "paired": 0}  # fmt: skip
    names = _jaccard([call.name for call in gold], [call.name for call in calls])
    if order == "exact":
        shared = range(min(len(gold), len(calls)))
        pairs = [(i, i) for i in shared if gold[i].name == calls[i].name and usable[i]]
    else:
        pairs = _best_pairing(gold, calls, usable)
    if count_extra:
        paired = {p for _, p in pairs}
        maximum += sum(1 + len(c.arguments) for p, c in enumerate(calls) if p not in paired)
    key_overlap = sum(_jaccard(list(gold[g].arguments), list(calls[p].arguments)) for g, p in pairs)
    values = sum(_values_matched(gold[g], calls[p]) for g, p in pairs)
    total_values = sum(len(call.arguments) for call in gold)
    return {
        "score": names + key_overlap + values,
        "max": float(maximum),
        "name": names,
        "param_names": key_overlap / len(gold),
        "param_values": values / total_values if total_values else float(len(pairs) == len(gold)),
        "paired": len(pairs),
    }


def _pair_value(gold: ToolCall, call: ToolCall) -> float:
    return _jaccard(list(gold.arguments), list(call.arguments)) + _values_matched(gold, call)


def _best_pairing(
    gold: Sequence[ToolCall], calls: Sequence[ToolCall], usable: Sequence[bool]
) -> list[tuple[int, int]]:
    """A one-to-one pairing of gold and usable predicted calls of the same name that
    maximises the summed pair values: exact per name while one side has at most
    EXACT_PAIRING_LIMIT calls of it (as any real reference has), greedy beyond."""
    by_name: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for g, call in enumerate(gold):
        by_name[call.name][0].append(g)
    for p, call in enumerate(calls):
        if usable[p] and call.name in by_name:
            by_name[call.name][1].append(p)
    pairs: list[tuple[int, int]] = []
    for gold_ids, call_ids in by_name.values():
        if not call_ids:
            continue
        value = [[_pair_value(gold[g], calls[p]) for p in call_ids] for g in gold_ids]
        if min(len(gold_ids), len(call_ids)) <= EXACT_PAIRING_LIMIT:
            chosen = _assignment(value)
        else:
            chosen = _greedy(value)
        pairs += [(gold_ids[i], call_ids[j]) for i, j in chosen]
    return pairs


def _assignment(value: list[list[float]]) -> list[tuple[int, int]]:
    """The pairing of rows and columns (each used at most once) with the greatest total
    value: a DP over the columns, keeping the best pairing per subset of the smaller
    side's members used."""
    transposed = len(value) > len(value[0])
    matrix = [list(column) for column in zip(*value, strict=True)] if transposed else value
    best: dict[int, tuple[float, tuple[tuple[int, int], ...]]] = {0: (0.0, ())}
    for column in range(len(matrix[0])):
        extended = dict(best)
        for used, (total, picks) in best.items():
            for row, row_values in enumerate(matrix):
                if used >> row & 1:
                    continue
                candidate = (total + row_values[column], (*picks, (row, column)))
                key = used | 1 << row
                if key not in extended or candidate[0] > extended[key][0]:
                    extended[key] = candidate
        best = extended
    picks = max(best.values(), key=lambda entry: entry[0])[1]
    return [(column, row) for row, column in picks] if transposed else list(picks)


def _greedy(value: list[list[float]]) -> list[tuple[int, int]]:
    cells = sorted(
        ((v, i, j) for i, row in enumerate(value) for j, v in enumerate(row)), reverse=True
    )
    rows_used: set[int] = set()
    columns_used: set[int] = set()
    pairs = []
    for _, i, j in cells:
        if i not in rows_used and j not in columns_used:
            rows_used.add(i)
            columns_used.add(j)
            pairs.append((i, j))
    return pairs


def _jaccard(first: list[Any], second: list[Any]) -> float:
    """|A & B| / (|A| + |B| - |A & B|) for multisets; 1 when both are empty."""
    if not first and not second:
        return 1.0
    common = sum((Counter(first) & Counter(second)).values())
    return common / (len(first) + len(second) - common)


def _values_matched(gold: ToolCall, call: ToolCall) -> int:
    return sum(
        1 for key, want in gold.arguments.items()
        if key in call.arguments and same_value(call.arguments[key], want)
    )  # fmt: skip


def same_value(got: Any, want: Any) -> bool:
    """JSON equality that keeps types apart (`true` is not `1`, `"1"` is not `1`);
    numbers by value (`1` is `1.0`)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(got, want, rel_tol=0, abs_tol=0) or got == want
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(map(same_value, got, want))
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        return got.keys() == want.keys() and all(same_value(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


def _repeated_beyond_gold(gold: Sequence[ToolCall], calls: Sequence[ToolCall]) -> str:
    """The name of a call made (identically) more often than the gold makes it, or ''."""
    wanted = Counter(map(call_key, gold))
    for key, made in Counter(map(call_key, calls)).items():
        if made > 1 and made > wanted[key]:
            return key.split("\0", 1)[0]
    return ""


def _validators(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A JSON Schema validator per tool name, from OpenAI (`{"type": "function",
    "function": {...}}`) or plain (`{"name", "parameters"}`) specs."""
    validators = {}
    for index, tool in enumerate(tools):
        spec = tool.get("function", tool)
        name, schema = spec.get("name"), spec.get("parameters", {})
        if not isinstance(name, str) or not isinstance(schema, Mapping):
            raise InvalidSample(
                f"reference.tools[{index}]: expected a 'name' and a JSON Schema in 'parameters'"
            )
        validators[name] = _validator(json.dumps(schema, sort_keys=True), index)
    return validators


@functools.lru_cache(maxsize=1024)
def _validator(schema_text: str, index: int) -> Any:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidSample(
            f"reference.tools[{index}].parameters: not a valid JSON Schema ({exc.message})"
        ) from None
    return cls(schema)


def _valid(call: ToolCall, validators: Mapping[str, Any]) -> str:
    """'' if the call's arguments fit its tool's schema (or no tools are listed), else
    why not."""
    if not validators:
        return ""
    validator = validators.get(call.name)
    if validator is None:
        return "no such tool"
    error = jsonschema.exceptions.best_match(validator.iter_errors(call.arguments))
    return "" if error is None else error.message[:200]
