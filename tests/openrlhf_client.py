"""OpenRLHF's own reward client, driven the way its rollout workers drive it.

OpenRLHF 0.11's `SingleTurnAgentExecutor.execute` tokenizes the prompt, asks the vLLM
engine for a response, decodes prompt + response with special tokens kept and sends
that query, one per rollout, to `--remote_rm_url` (an HTTP URL, or a Python file whose
`reward_func` it calls). Here the real executor runs with a byte-level tokenizer trained
in the test (decoding gives back exactly the text, as the tokenizers of chat models do)
and a scripted engine in place of vLLM, which needs a GPU. OpenRLHF is installed with
`--no-deps` into `.venv/openrlhf-0.11.2` by `make setup` (its own dependencies,
DeepSpeed and vLLM, are not needed by the client).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

OPENRLHF = Path(sys.prefix) / "openrlhf-0.11.2"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def agent_module() -> ModuleType:
    """`openrlhf.utils.agent` of the installed OpenRLHF 0.11.2 (fails in CI when missing)."""
    if not OPENRLHF.is_dir():
        reason = f"{OPENRLHF}: missing; `make setup` installs OpenRLHF 0.11.2 there"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must test OpenRLHF's own client")
        pytest.skip(reason)
    if str(OPENRLHF) not in sys.path:
        sys.path.append(str(OPENRLHF))
    return pytest.importorskip("openrlhf.utils.agent")


def chat_tokenizer(corpus: list[str]) -> Any:
    """A byte-level BPE tokenizer with ChatML's special tokens, trained on `corpus`."""
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    model = tokenizers.Tokenizer(tokenizers.models.BPE())
    model.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    model.train_from_iterator(corpus, trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=model, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )


class ScriptedEngine:
    """Stands in for OpenRLHF's vLLM engine: `generate` answers with a fixed response."""

    def __init__(self, tokenizer: Any, response: str) -> None:
        self.token_ids = tokenizer.encode(response, add_special_tokens=False)

    async def generate(
        self, prompt_token_ids: list[int], sampling_params: Any, multi_modal_data: Any = None
    ) -> SimpleNamespace:
        output = SimpleNamespace(token_ids=self.token_ids, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def rollouts(remote_rm_url: str, prompt: str, label: Any, responses: list[str]) -> list[dict]:
    """OpenRLHF's outputs for one prompt's `responses`, all generated and rewarded
    concurrently (one reward request per rollout, as OpenRLHF 0.9.1+ sends them)."""
    executor = agent_module().SingleTurnAgentExecutor(remote_rm_url=remote_rm_url)
    tokenizer = chat_tokenizer([prompt, *responses])
    params = SimpleNamespace(max_tokens=1024, logprobs=None)

    async def run() -> list[dict]:
        calls = [
            executor.execute(prompt, label, params, 2048, tokenizer, ScriptedEngine(tokenizer, r))
            for r in responses
        ]
        return await asyncio.gather(*calls)

    return asyncio.run(run())
