"""`format`: structural checks on a completion, 1 when it has the required shape.

Templates: `think_answer` (exactly one `<think>...</think>` then exactly one
`<answer>...</answer>`, as in DeepSeek-R1's format reward, arXiv 2501.12948), `answer`
(exactly one answer block), `think_boxed` (one think block, then text with exactly one
`\\boxed{}`), and `regex` (your own pattern, matched against the whole completion).

Tags are matched case-insensitively in ASCII letters only, so `<ANSWER>` counts as a
second answer tag and `<anſwer>` (long s) is no tag. The templates run in linear time:
every tag they name must appear exactly as often as they name it before they are
matched, so their lazy blocks have one way to end.

Pre-filled think blocks: chat templates of reasoning models (DeepSeek-R1 distills,
Qwen3 in thinking mode) end the prompt with `<think>`, so the completion starts inside
the think block (`reasoning...</think>\n\nSo \\boxed{4}`). With `prefilled_think` (the
default, for the two think templates) a completion that has no `<think>` tag but closes
one with `</think>` is read as if `<think>` came first. Nothing else is relaxed: the
think block must still be closed exactly once and (with `require_nonempty`) be
non-empty, so `</think>\\boxed{4}` passes no more than `<think></think>\\boxed{4}` does.
Set it to false when your template does not pre-fill, to require the opening tag.

A `regex` pattern is the config author's, applied with `fullmatch` to the whole completion
(as long as the policy makes it) by Python's backtracking engine; its author keeps it
linear: no repetitions that can split the same text two ways (`(a|aa)*`, `\\s*\\s*`,
`.*,.*;` on a run of commas) unless made possessive (`*+`, `++`) or atomic (`(?>...)`).
Usable as the condition of a `gate`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Params, SampleComponent
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.text import boxed_contents

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
# A tag in any case of its ASCII letters, for the counts and the templates alike
# (IGNORECASE alone also reads `ſ` as `s` and `ı` as `i`, which str.lower() does not).
_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE | re.ASCII)
_THINK, _THINK_END, _ANSWER, _ANSWER_END = (f"(?ai:{tag})" for tag in _TAGS)
_BLOCKS = {
    "think_answer": f"{_THINK}(?P<think>.*?){_THINK_END}\\s*{_ANSWER}(?P<answer>.*?){_ANSWER_END}",
    "answer": f"{_ANSWER}(?P<answer>.*?){_ANSWER_END}",
    "think_boxed": f"{_THINK}(?P<think>.*?){_THINK_END}(?P<rest>.*)",
}
_PREFILLABLE = ("think_answer", "think_boxed")
# How many times each tag must appear; None: any number (checked elsewhere).
_COUNTS: dict[str, tuple[int | None, ...]] = {
    "think_answer": (1, 1, 1, 1),
    "answer": (None, None, 1, 1),
    "think_boxed": (1, 1, 0, 0),
}


class FormatParams(Params):
    template: Literal["think_answer", "answer", "think_boxed", "regex"] = "think_answer"
    pattern: str | None = None
    allow_text_before: bool = False
    allow_text_after: bool = False
    require_nonempty: bool = True
    prefilled_think: bool = Field(
        default=True,
        description="think templates: a completion with </think> but no <think> starts "
        "inside the think block (the chat template put <think> in the prompt)",
    )

    @model_validator(mode="after")
    def _pattern_for_regex(self) -> FormatParams:
        if "prefilled_think" in self.model_fields_set and self.template not in _PREFILLABLE:
            raise ValueError("prefilled_think: only used with templates think_answer, think_boxed")
        if self.template != "regex":
            if self.pattern is not None:
                raise ValueError("pattern: only used with template 'regex'")
            return self
        if not self.pattern:
            raise ValueError("pattern: required when template is 'regex'")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern: not a valid regular expression: {exc}") from None
        return self


@register("format")
class FormatCheck(SampleComponent):
    """Does the completion have the configured structure? 1.0 or 0.0, with the reason."""

    Params = FormatParams
    params: FormatParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        p = self.params
        if p.template == "regex":
            assert p.pattern is not None
            self.regex = re.compile(p.pattern, re.DOTALL)
        else:
            before = "(?P<before>.*?)" if p.allow_text_before else r"\s*"
            after = "(?P<after>.*)" if p.allow_text_after else r"\s*"
            pattern = before + _BLOCKS[p.template] + after
            self.regex = re.compile(pattern, re.DOTALL)

    def score_sample(self, sample: Sample) -> Score:
        text = sample.completion
        info: dict[str, Any] = {"template": self.params.template}
        if self.prefilled(text):
            text = "<think>" + text
            info["prefilled_think"] = True
        failure = self.failure(text)
        if failure:
            info["reason"] = failure
        return Score(0.0 if failure else 1.0, info=info)

    def prefilled(self, text: str) -> bool:
        """Whether the completion starts inside a think block the prompt opened."""
        if not (self.params.prefilled_think and self.params.template in _PREFILLABLE):
            return False
        tags = {tag.group().lower() for tag in _TAG.finditer(text)}
        return "</think>" in tags and "<think>" not in tags

    def failure(self, text: str) -> str:
        """Why the completion fails the check, or "" when it passes."""
        template = self.params.template
        if template == "regex":
            return "" if self.regex.fullmatch(text) else "does not match the pattern"
        counts = Counter(tag.group().lower() for tag in _TAG.finditer(text))
        for tag, expected in zip(_TAGS, _COUNTS[template], strict=True):
            count = counts[tag]
            if expected is not None and count != expected:
                return f"tag {tag} appears {count} times; expected {expected}"
        match = self.regex.fullmatch(text)
        if match is None:
            return self._misplaced()
        blocks = {k: v for k, v in match.groupdict().items() if k in ("think", "answer")}
        if _TAG.search(blocks.get("answer", "")):
            return "a tag is nested inside the <answer> block"
        if template == "think_boxed":
            boxes = boxed_contents(match["rest"])
            if len(boxes) != 1:
                return f"expected exactly one \\boxed{{}} after </think>, found {len(boxes)}"
            blocks["boxed"] = boxes[0]
        if self.params.require_nonempty:
            for block, content in blocks.items():
                if not content.strip():
                    return f"empty {block} block"
        return ""

    def _misplaced(self) -> str:
        p = self.params
        order = "<answer> block" if p.template == "answer" else "<think> block then the answer"
        where = [
            side
            for side, allowed in (("before", p.allow_text_before), ("after", p.allow_text_after))
            if not allowed
        ]
        extra = f"; no text allowed {' or '.join(where)} it" if where else ""
        return f"tags out of order or misplaced: expected the {order}{extra}"
