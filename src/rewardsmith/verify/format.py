"""`format`: structural checks on a completion, 1 when it has the required shape.

Templates: `think_answer` (exactly one `<think>...</think>` then exactly one
`<answer>...</answer>`, as in DeepSeek-R1's format reward, arXiv 2501.12948), `answer`
(exactly one answer block), `think_boxed` (one think block, then text with exactly one
`\\boxed{}`), and `regex` (your own pattern, matched against the whole completion).
Usable as the condition of a `gate`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import model_validator

from rewardsmith.core.component import Params, SampleComponent
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.text import boxed_contents

_BLOCKS = {
    "think_answer": r"<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>",
    "answer": r"<answer>(?P<answer>.*?)</answer>",
    "think_boxed": r"<think>(?P<think>.*?)</think>(?P<rest>.*)",
}
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


class FormatParams(Params):
    template: Literal["think_answer", "answer", "think_boxed", "regex"] = "think_answer"
    pattern: str | None = None
    allow_text_before: bool = False
    allow_text_after: bool = False
    require_nonempty: bool = True

    @model_validator(mode="after")
    def _pattern_compiles(self) -> FormatParams:
        if self.template == "regex":
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
            self.regex = re.compile(before + _BLOCKS[p.template] + after, re.DOTALL)

    def score_sample(self, sample: Sample) -> Score:
        failure = self.failure(sample.completion)
        return Score(0.0 if failure else 1.0, info={"reason": failure} if failure else {})

    def failure(self, text: str) -> str:
        """Why the completion fails the check, or "" when it passes."""
        match = self.regex.fullmatch(text)
        if match is None:
            return f"does not match the {self.params.template!r} structure"
        if self.params.template == "regex":
            return ""
        counts = {tag: text.count(tag) for tag in _TAGS}
        expected = {"<think>": 1, "</think>": 1, "<answer>": 1, "</answer>": 1}
        if self.params.template == "answer":
            expected.update({"<think>": counts["<think>"], "</think>": counts["</think>"]})
        if self.params.template == "think_boxed":
            expected.update({"<answer>": 0, "</answer>": 0})
        wrong = [tag for tag in _TAGS if counts[tag] != expected[tag]]
        if wrong:
            return f"tag {wrong[0]} appears {counts[wrong[0]]} times"
        if self.params.template == "think_boxed" and len(boxed_contents(match["rest"])) != 1:
            return "expected exactly one \\boxed{} after </think>"
        if self.params.require_nonempty:
            for block in ("think", "answer"):
                if block in match.groupdict() and not match[block].strip():
                    return f"empty <{block}> block"
        return ""
