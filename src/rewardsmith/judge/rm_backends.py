"""Where a scalar reward model's scores come from: a local transformers
sequence-classification model, or a server (vLLM's `/classify` or `/pooling`, or the
OpenRLHF `/get_reward` protocol of another reward-model server).

Every backend maps (prompt, completion) pairs to one float each, in order, and raises
`RewardModelError` (a reason naming the model or server) when it cannot.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from rewardsmith.core.types import Message


class RewardModelError(RuntimeError):
    """The reward model gave no usable scores (the message says which and why)."""


class Backend(Protocol):
    def scores(
        self, prompts: Sequence[str | list[Message]], completions: Sequence[str]
    ) -> list[float]: ...


def prompt_text(prompt: str | list[Message]) -> str:
    return prompt if isinstance(prompt, str) else "\n".join(m.content for m in prompt)


class LocalRewardModel:
    """A transformers sequence-classification model saved with `save_pretrained`, on
    `device` (the CPU, or e.g. `cuda:0`), loaded from disk only. A prompt and its
    completion are rendered with the tokenizer's chat template when it has one (the
    prompt's messages, then the completion as the assistant's), else joined; the score
    is the logit of `label`."""

    def __init__(
        self, path: str, label: int, batch_size: int, max_length: int | None, device: str
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise RewardModelError(
                f"model: a local reward model needs torch and transformers ({exc}); "
                "pip install 'rewardsmith[lm]'"
            ) from None
        self.torch = torch
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True
            )
        except Exception as exc:
            raise RewardModelError(
                f"model: cannot load a sequence-classification model from {path!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        try:
            self.model.to(device).eval()
        except (RuntimeError, ValueError, AssertionError) as exc:
            raise RewardModelError(f"device: cannot use {device!r}: {exc}") from None
        self.device = device
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        labels = self.model.config.num_labels
        if not 0 <= label < labels:
            raise RewardModelError(f"label: {label} is not one of the model's {labels} labels")
        self.label, self.batch_size = label, batch_size
        self.max_length = max_length or getattr(self.model.config, "max_position_embeddings", 512)
        self.lock = threading.Lock()

    def render(self, prompt: str | list[Message], completion: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            turns = (
                [{"role": "user", "content": prompt}]
                if isinstance(prompt, str)
                else [{"role": m.role, "content": m.content} for m in prompt]
            )
            turns.append({"role": "assistant", "content": completion})
            return self.tokenizer.apply_chat_template(turns, tokenize=False)
        return prompt_text(prompt) + completion

    def scores(
        self, prompts: Sequence[str | list[Message]], completions: Sequence[str]
    ) -> list[float]:
        texts = [self.render(p, c) for p, c in zip(prompts, completions, strict=True)]
        out: list[float] = []
        with self.lock, self.torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.batch_size],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                ).to(self.device)
                logits = self.model(**batch).logits
                out += [float(value) for value in logits[:, self.label]]
        return out


@functools.lru_cache(maxsize=8)
def local_model(
    path: str, label: int, batch_size: int, max_length: int | None, device: str
) -> LocalRewardModel:
    """One loaded model per (path, settings) in this process."""
    return LocalRewardModel(str(Path(path).expanduser()), label, batch_size, max_length, device)


class RemoteRewardModel:
    """A reward model behind HTTP. `protocol`: `vllm_classify` (POST {url}/classify,
    `{"model", "input": [texts]}`, the score is `data[i].probs[label]`), `vllm_pooling`
    (POST {url}/pooling, the score is `data[i].data`: a number, or the last of a list, or
    `[label]` of a list of lists, per-token scores taken at the last token), `openrlhf`
    (POST {url}, `{"query": [prompt + completion], "prompts": [prompts]}`, the score is
    `rewards[i]`)."""

    def __init__(
        self, url: str, protocol: str, model: str, label: int, timeout: float, batch_size: int
    ) -> None:
        self.url, self.protocol, self.model, self.label = url.rstrip("/"), protocol, model, label
        self.batch_size = batch_size
        self.client = httpx.Client(timeout=timeout)

    def scores(
        self, prompts: Sequence[str | list[Message]], completions: Sequence[str]
    ) -> list[float]:
        out: list[float] = []
        pairs = list(zip(prompts, completions, strict=True))
        for start in range(0, len(pairs), self.batch_size):
            out += self._batch(pairs[start : start + self.batch_size])
        return out

    def _batch(self, pairs: list[tuple[str | list[Message], str]]) -> list[float]:
        texts = [prompt_text(p) + c for p, c in pairs]
        if self.protocol == "openrlhf":
            url, body = self.url, {"query": texts, "prompts": [prompt_text(p) for p, _ in pairs]}
        else:
            path = "/classify" if self.protocol == "vllm_classify" else "/pooling"
            url, body = self.url + path, {"model": self.model, "input": texts}
        try:
            response = self.client.post(url, json=body)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RewardModelError(f"url: {url}: {type(exc).__name__}: {exc}") from None
        try:
            values = self._read(answer)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise RewardModelError(
                f"url: {url} answered in a form {self.protocol} does not use ({exc!r})"
            ) from None
        if len(values) != len(pairs) or not all(math.isfinite(v) for v in values):
            raise RewardModelError(
                f"url: {url} gave {len(values)} finite scores for {len(pairs)} inputs"
            )
        return values

    def _read(self, answer: Any) -> list[float]:
        if self.protocol == "openrlhf":
            return [float(v) for v in answer["rewards"]]
        rows = sorted(answer["data"], key=lambda row: row.get("index", 0))
        if self.protocol == "vllm_classify":
            return [float(row["probs"][self.label]) for row in rows]
        return [_pooled(row["data"], self.label) for row in rows]


def _pooled(data: Any, label: int) -> float:
    if isinstance(data, int | float):
        return float(data)
    last = data[-1]
    return float(last[label] if isinstance(last, list) else last)
