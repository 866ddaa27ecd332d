"""`ifeval`: does the response follow the prompt's verifiable instructions? (IFEval, Zhou
et al., arXiv 2311.07911; the checks are in ifeval_checks.py.)

The reference is an IFEval row's `{"instruction_id_list": [...], "kwargs": [...]}` (one
kwargs object per instruction; keys that are None are ignored, as in the dataset's
exports). `variant: strict` reads the response as it is; `loose` also accepts it
without its first line, its last line or both, or without markdown asterisks (the
paper's loose accuracy). `mode: all` pays 1 when every instruction is followed (the
paper's prompt-level accuracy), `fraction` the share followed (instruction-level). An
answer inside `<think>` does not count: only the text after the last `</think>` is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from rewardsmith.core.component import InvalidSample, Params, SampleComponent, require_reference
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.ifeval_checks import CHECKS, REQUIRED, loose_variants

THINK_CLOSE = "</think>"


class IFEvalParams(Params):
    variant: Literal["strict", "loose"] = "strict"
    mode: Literal["all", "fraction"] = "all"


@register("ifeval")
class IFEvalVerifier(SampleComponent):
    """IFEval's instruction checks on the response after any think block."""

    Params = IFEvalParams
    params: IFEvalParams

    def score_sample(self, sample: Sample) -> Score:
        instructions = _instructions(require_reference(sample, "an IFEval row"))
        response = sample.completion.rsplit(THINK_CLOSE, 1)[-1].strip()
        readings = [response] if self.params.variant == "strict" else loose_variants(response)
        try:
            followed = {
                instruction: any(check(text, kwargs) for text in readings)
                for instruction, check, kwargs in instructions
            }
        except (ValueError, TypeError) as exc:  # e.g. a relation IFEval does not have
            raise InvalidSample(f"reference.kwargs: {exc}") from None
        share = sum(followed.values()) / len(followed)
        value = float(share == 1.0) if self.params.mode == "all" else share
        info: dict[str, Any] = {"followed": followed, "share": share}
        if share < 1.0:
            missed = [name for name, ok in followed.items() if not ok]
            info["code"] = "instruction_not_followed"
            info["reason"] = "not followed: " + ", ".join(missed)
        score = Score(value, info=info)
        for instruction, ok in followed.items():
            score.components[f"{self.name}.{instruction.split(':', 1)[-1]}"] = float(ok)
        return score


def _instructions(reference: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """(id, check, kwargs) per instruction of an IFEval row; InvalidSample naming the
    field when the row is not one."""
    if not isinstance(reference, Mapping) or not isinstance(
        reference.get("instruction_id_list"), list
    ):
        raise InvalidSample(
            "reference: expected an IFEval row {'instruction_id_list': [...], 'kwargs': "
            f"[...]}}, got {repr(reference)[:100]}"
        )
    ids = reference["instruction_id_list"]
    all_kwargs = reference.get("kwargs") or [{} for _ in ids]
    if not ids:
        raise InvalidSample("reference.instruction_id_list: expected at least one instruction")
    if not isinstance(all_kwargs, list) or len(all_kwargs) != len(ids):
        raise InvalidSample(
            f"reference.kwargs: expected a list of {len(ids)} objects, one per instruction"
        )
    instructions = []
    for index, (instruction, kwargs) in enumerate(zip(ids, all_kwargs, strict=True)):
        check = CHECKS.get(instruction)
        if check is None:
            raise InvalidSample(
                f"reference.instruction_id_list[{index}]: unknown instruction {instruction!r}"
            )
        given = {k: v for k, v in (kwargs or {}).items() if v is not None}
        missing = [key for key in REQUIRED.get(instruction, ()) if key not in given]
        if missing:
            raise InvalidSample(
                f"reference.kwargs[{index}]: {instruction} needs {', '.join(missing)}"
            )
        instructions.append((instruction, check, given))
    return instructions
