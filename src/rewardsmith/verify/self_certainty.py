"""`self_certainty`: a label-free reward from the policy's own next-token distributions
(Intuitor, Zhao et al., "Learning to Reason without External Rewards", arXiv
2505.19590): the mean over the completion's tokens of KL(U || p), the divergence of
each next-token distribution p from the uniform one U over the vocabulary V,

    KL(U || p) = -log |V| - (1 / |V|) * sum over tokens j of log p(j),

0 for a uniform (clueless) distribution, larger the surer the policy is.

It needs the distribution, not only the sampled token's log-probability: the sample's
`top_logprobs` field, one entry per completion token, each a list of the k largest
log-probabilities (or an OpenAI/vLLM-style mapping of token to log-probability). Given
only the top k of a vocabulary of `vocab_size`, the rest of the probability mass is
taken as spread evenly over the other |V| - k tokens (`tail: uniform`, exact when k =
|V|); `tail: renormalize` instead measures KL from the uniform distribution over the k
tokens to the top-k renormalised, which needs no vocabulary size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from rewardsmith.core.component import InvalidSample, Params, SampleComponent
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score

MAX_TOKENS = 200_000
MAX_TOP_K = 1_000
TAIL_FLOOR = 1e-12  # the least tail mass assumed, so a rounded-away tail stays finite


class SelfCertaintyParams(Params):
    tail: Literal["uniform", "renormalize"] = "uniform"
    vocab_size: int | None = Field(None, ge=2, description="|V|; needed by tail: uniform")

    @model_validator(mode="after")
    def _vocabulary_given(self) -> SelfCertaintyParams:
        if self.tail == "uniform" and self.vocab_size is None:
            raise ValueError("vocab_size: needed with tail: uniform (or use tail: renormalize)")
        return self


@register("self_certainty")
class SelfCertainty(SampleComponent):
    """Mean KL(U || p) over the completion's next-token distributions (top-k given)."""

    Params = SelfCertaintyParams
    params: SelfCertaintyParams

    def score_sample(self, sample: Sample) -> Score:
        rows = _top_logprobs(sample)
        per_token = [self._divergence(row) for row in rows]
        value = float(np.mean(per_token))
        info = {"tokens": len(rows), "k": max(len(row) for row in rows), "min": min(per_token),
                "max": max(per_token)}  # fmt: skip
        return Score(value, info=info)

    def _divergence(self, logprobs: np.ndarray) -> float:
        k = len(logprobs)
        if self.params.tail == "renormalize":
            log_total = float(np.logaddexp.reduce(logprobs))
            return float(-math.log(k) - np.mean(logprobs - log_total))
        vocab = self.params.vocab_size or k
        if k > vocab:
            raise InvalidSample(f"top_logprobs: {k} entries for one token, more than vocab_size")
        tail_mass = max(1.0 - float(np.exp(logprobs).sum()), TAIL_FLOOR)
        tail = (vocab - k) * math.log(tail_mass / (vocab - k)) if vocab > k else 0.0
        return -math.log(vocab) - (float(logprobs.sum()) + tail) / vocab


def _top_logprobs(sample: Sample) -> list[np.ndarray]:
    """The sample's `top_logprobs` as one array per token; InvalidSample naming the field
    and token when they are missing, empty, not finite, positive or sum past 1."""
    rows = (sample.model_extra or {}).get("top_logprobs")
    if not isinstance(rows, list) or not rows:
        raise InvalidSample(
            "top_logprobs: missing; expected, per completion token, the top-k "
            "log-probabilities of the next-token distribution (a list, or a mapping "
            "of token to log-probability)",
            "missing_top_logprobs",
        )
    if len(rows) > MAX_TOKENS:
        raise InvalidSample(f"top_logprobs: {len(rows)} tokens; at most {MAX_TOKENS}")
    arrays = []
    for index, row in enumerate(rows):
        values = list(row.values()) if isinstance(row, Mapping) else row
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise InvalidSample(f"top_logprobs[{index}]: expected numbers") from None
        if array.ndim != 1 or not 0 < len(array) <= MAX_TOP_K:
            raise InvalidSample(
                f"top_logprobs[{index}]: expected 1 to {MAX_TOP_K} log-probabilities"
            )
        if not np.all(np.isfinite(array)) or np.any(array > 0):
            raise InvalidSample(f"top_logprobs[{index}]: expected finite log-probabilities <= 0")
        if float(np.exp(array).sum()) > 1.0 + 1e-4:
            raise InvalidSample(f"top_logprobs[{index}]: the probabilities sum past 1")
        arrays.append(array)
    return arrays
