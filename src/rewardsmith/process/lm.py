"""A local causal language model on the CPU, for scoring text with token log-probabilities.

`CausalLM` loads a directory written by `save_pretrained` (model and tokenizer) with
transformers, from the local disk only: nothing is downloaded (`local_files_only=True`,
and `HF_HUB_OFFLINE=1` unless the environment already says otherwise). It needs the `lm`
extra: `pip install 'rewardsmith[lm]'`.

How a (prompt, completion) pair is scored:
- the prompt is encoded as a model input (with the special tokens the tokenizer puts in
  front, such as a BOS token, but none after it); an empty prompt becomes the BOS token,
  or the EOS token when there is no BOS (GPT-2's convention), so the first completion
  token always has a context;
- the completion is encoded on its own, without special tokens, so its tokens are exactly
  its own tokenisation, and the two id lists are concatenated;
- when the whole is longer than `max_length`, tokens are dropped from the start of the
  prompt (after its special prefix), never from the completion;
- the pairs go through the model in right-padded batches with an attention mask, and the
  result for each completion token t is log p(y_t | prompt, y_<t), with the token's
  character span in the completion.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

INSTALL_HINT = "pip install 'rewardsmith[lm]'"
DTYPES = ("float32", "bfloat16", "float16")
_TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "tokenizer.model", "vocab.json")


class LMUnavailableError(ImportError):
    """torch or transformers is missing: the `lm` extra is not installed."""


class ModelNotFoundError(FileNotFoundError):
    """The path holds no model that can be loaded (the message names the path)."""


@dataclass
class TokenLogprobs:
    """One completion's tokens: ids, log p(token | everything before it), character spans.

    `offsets[t]` is the half-open span of token t in the completion's text.
    """

    ids: list[int]
    logprobs: list[float]
    offsets: list[tuple[int, int]]

    @property
    def total(self) -> float:
        """The completion's log-probability: the sum of its token log-probabilities."""
        return math.fsum(self.logprobs)


def unusable(path: str | Path) -> str:
    """Why a model at `path` cannot be loaded here ('' if it looks loadable), checked
    without importing torch: for configs to fail before any work starts."""
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return f"{' and '.join(missing)} not installed: {INSTALL_HINT}"
    if not (Path(path).expanduser() / "config.json").is_file():
        return f"no model saved at {str(path)!r} (expected a directory with config.json)"
    return ""


def _import_backend() -> tuple[Any, Any]:
    """torch and transformers, imported with the hub switched off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        missing = exc.name or "torch or transformers"
        raise LMUnavailableError(
            f"the local LM backend needs torch and transformers, and {missing} is not "
            f"installed: {INSTALL_HINT}"
        ) from exc
    return torch, transformers


def _check_model_dir(path: Path) -> None:
    where = f"no causal LM at {str(path)!r}"
    rule = "a local directory written by save_pretrained is needed; nothing is downloaded"
    if not path.is_dir():
        what = "the path does not exist" if not path.exists() else "the path is not a directory"
        raise ModelNotFoundError(f"{where}: {what} ({rule})")
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{where}: it has no config.json ({rule})")
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelNotFoundError(f"{where}: it has no tokenizer files ({rule})")


def _find(haystack: list[int], needle: list[int]) -> int | None:
    """Where `needle` first occurs in `haystack` as a contiguous run, or None."""
    width = len(needle)
    for start in range(len(haystack) - width + 1):
        if haystack[start : start + width] == needle:
            return start
    return None


def _offsets_by_decoding(tokenizer: Any, text: str, ids: list[int]) -> list[tuple[int, int]]:
    """Token spans from the lengths of decoded prefixes (for tokenizers with no offsets).

    Exact when decoding reproduces the text; otherwise an approximation that still gives
    ordered, non-overlapping spans inside the text.
    """
    spans: list[tuple[int, int]] = []
    previous = 0
    for count in range(1, len(ids) + 1):
        decoded = tokenizer.decode(
            ids[:count], skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        end = max(previous, min(len(decoded), len(text)))
        spans.append((previous, end))
        previous = end
    return spans


def _check_pairs(first: Sequence[str], second: Sequence[str], names: str, batch_size: int) -> None:
    a, b = names.split("/")
    for name, value in ((a, first), (b, second)):
        if isinstance(value, str):
            raise TypeError(f"{name}: expected a sequence of strings, got a single string")
    if len(first) != len(second):
        raise ValueError(f"{a} and {b} differ in length: {len(first)} != {len(second)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")


class CausalLM:
    """A local causal LM (a directory saved with save_pretrained), on CPU, for scoring text."""

    def __init__(self, path: str | Path, dtype: str = "float32", max_length: int | None = None):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if max_length is not None and max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {max_length}")
        torch, transformers = _import_backend()
        self.path = Path(path).expanduser()
        self.dtype = dtype
        _check_model_dir(self.path)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(self.path), local_files_only=True
            )
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                str(self.path), local_files_only=True, dtype=getattr(torch, dtype)
            )
        except Exception as exc:  # whatever the cause, say which path could not be loaded
            raise ModelNotFoundError(
                f"cannot load a causal LM and its tokenizer from {str(self.path)!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self.model.eval()
        config = self.model.config
        self.max_length = max_length or getattr(config, "max_position_embeddings", None)
        tokenizer = self.tokenizer
        self._start_id = (
            tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        )
        pad_candidates = (tokenizer.pad_token_id, tokenizer.eos_token_id, 0)
        self._pad_id = next(token for token in pad_candidates if token is not None)
        forward_parameters = inspect.signature(self.model.forward).parameters
        self._can_keep_logits = "logits_to_keep" in forward_parameters
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CausalLM({str(self.path)!r}, dtype={self.dtype!r}, max_length={self.max_length})"

    def token_logprobs(
        self, prompts: Sequence[str], completions: Sequence[str], batch_size: int = 8
    ) -> list[TokenLogprobs]:
        """For each pair, log p(y_t | prompt, y_<t) for every token y_t of the completion."""
        _check_pairs(prompts, completions, "prompts/completions", batch_size)
        if not prompts:
            return []
        torch, _ = _import_backend()
        with self._lock, torch.no_grad():
            contexts = self._encode_prompts(list(prompts))
            targets, offsets = self._encode_completions(list(completions))
            contexts = self._fit(contexts, targets)
            logprobs = self._score(contexts, targets, batch_size)
        return [
            TokenLogprobs(ids=ids, logprobs=values, offsets=spans)
            for ids, values, spans in zip(targets, logprobs, offsets, strict=True)
        ]

    def sequence_logprob(
        self, contexts: Sequence[str], targets: Sequence[str], batch_size: int = 8
    ) -> list[float]:
        """log p(target | context) for each pair: the sum of the target's token logprobs."""
        _check_pairs(contexts, targets, "contexts/targets", batch_size)
        return [result.total for result in self.token_logprobs(contexts, targets, batch_size)]

    def _encode_prompts(self, prompts: list[str]) -> list[tuple[list[int], int]]:
        """Each prompt's ids with its special prefix (and nothing after the text), and the
        prefix's length."""
        plain = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        special = self.tokenizer(prompts, add_special_tokens=True)["input_ids"]
        encoded = []
        for text_ids, model_ids in zip(plain, special, strict=True):
            if not text_ids:
                if self._start_id is None:
                    raise ValueError(
                        "an empty prompt needs a BOS or EOS token to start from, and the "
                        "tokenizer has neither"
                    )
                encoded.append(([self._start_id], 1))
                continue
            start = _find(model_ids, text_ids)
            if start is None:  # the tokenizer changes the text's ids when it adds its tokens
                encoded.append((list(model_ids), 0))
            else:
                encoded.append((list(model_ids[: start + len(text_ids)]), start))
        return encoded

    def _encode_completions(
        self, completions: list[str]
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        if getattr(self.tokenizer, "is_fast", False):
            try:
                encoded = self.tokenizer(
                    completions, add_special_tokens=False, return_offsets_mapping=True
                )
            except NotImplementedError:
                pass
            else:
                ids = [list(row) for row in encoded["input_ids"]]
                spans = [
                    [(int(start), int(end)) for start, end in row]
                    for row in encoded["offset_mapping"]
                ]
                return ids, spans
        plain = self.tokenizer(completions, add_special_tokens=False)["input_ids"]
        ids = [list(row) for row in plain]
        spans = [
            _offsets_by_decoding(self.tokenizer, text, row)
            for text, row in zip(completions, ids, strict=True)
        ]
        return ids, spans

    def _fit(
        self, contexts: list[tuple[list[int], int]], targets: list[list[int]]
    ) -> list[list[int]]:
        """The context ids, cut from the front (after the special prefix) to fit max_length."""
        limit = self.max_length
        fitted = []
        dropped = 0
        for index, ((context, prefix), target) in enumerate(zip(contexts, targets, strict=True)):
            if limit is None or len(context) + len(target) <= limit:
                fitted.append(context)
                continue
            room = limit - len(target)
            if room < 1:
                raise ValueError(
                    f"completion {index} has {len(target)} tokens, which leaves no room for "
                    f"context within max_length={limit}"
                )
            kept_tail = room - prefix
            if kept_tail > 0:
                fitted.append(context[:prefix] + context[len(context) - kept_tail :])
            else:
                fitted.append(context[len(context) - room :])
            dropped += 1
        if dropped:
            warnings.warn(
                f"{dropped} prompt(s) cut from the front to fit max_length={limit}",
                RuntimeWarning,
                stacklevel=3,
            )
        return fitted

    def _score(
        self, contexts: list[list[int]], targets: list[list[int]], batch_size: int
    ) -> list[list[float]]:
        import torch

        results: list[list[float]] = [[] for _ in targets]
        # Longest first, so that each batch pads little; empty completions need no pass.
        order = sorted(
            (index for index, target in enumerate(targets) if target),
            key=lambda index: -(len(contexts[index]) + len(targets[index])),
        )
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            width = max(len(contexts[index]) + len(targets[index]) for index in rows)
            input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for row, index in enumerate(rows):
                sequence = contexts[index] + targets[index]
                input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
                attention_mask[row, : len(sequence)] = 1
            # Logits are needed only from the position before the first completion token.
            first_needed = min(len(contexts[index]) for index in rows) - 1
            extra: dict[str, Any] = {}
            if self._can_keep_logits:
                extra["logits_to_keep"] = width - first_needed
            logits = self.model(
                input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **extra
            ).logits
            shift = width - logits.shape[1]
            for row, index in enumerate(rows):
                results[index] = self._gather(
                    logits[row], input_ids[row], len(contexts[index]), len(targets[index]), shift
                )
        return results

    @staticmethod
    def _gather(
        logits: torch.Tensor, ids: torch.Tensor, start: int, count: int, shift: int
    ) -> list[float]:
        """log p(ids[t] | ids[:t]) for t in [start, start + count); logits row k is for
        position k + shift."""
        import torch

        predicting = logits[start - 1 - shift : start + count - 1 - shift].float()
        logprobs = torch.log_softmax(predicting, dim=-1)
        chosen = ids[start : start + count].unsqueeze(-1)
        return logprobs.gather(-1, chosen).squeeze(-1).tolist()


_CACHE: dict[tuple[str, str, int | None], CausalLM] = {}
_CACHE_LOCK = threading.Lock()


def load_lm(path: str | Path, dtype: str = "float32", max_length: int | None = None) -> CausalLM:
    """The `CausalLM` at `path`, loaded once per process for each (path, dtype, max_length)."""
    resolved = str(Path(path).expanduser().resolve())
    key = (resolved, dtype, max_length)
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = CausalLM(resolved, dtype=dtype, max_length=max_length)
            _CACHE[key] = model
        return model


def clear_lm_cache() -> None:
    """Forget the models `load_lm` has loaded (they are freed once nothing else holds them)."""
    with _CACHE_LOCK:
        _CACHE.clear()
