"""Each README form of the TRL adapter in two steps of a real `GRPOTrainer`, on a tiny
causal LM with random weights and a tokenizer trained here (nothing is downloaded)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from rewardsmith.adapters import HEALTH_METRICS
from rewardsmith.adapters.trl import async_trl_reward, reward_funcs, trl_reward
from tests.adapters.conftest import PIPELINE, PIPELINE_NAMES

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

QUESTIONS = {"What is 2+2?": "4", "What is 3+4?": "7", "What is 9-5?": "4", "What is 2*3?": "6"}


def tiny_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A word-level tokenizer trained on the questions and a few answers."""
    model = tokenizers.models.WordLevel(unk_token="<unk>")
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "<s>", "</s>"])
    corpus = [*QUESTIONS, "<think> so </think> the answer is \\boxed{4} or 7 or 6 ."]
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.decoder = tokenizers.decoders.WordPiece(prefix="##")  # joins words by spaces
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )


def tiny_model(tokenizer: transformers.PreTrainedTokenizerFast) -> transformers.LlamaForCausalLM:
    """One layer, 16 hidden units, random weights."""
    transformers.set_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return transformers.LlamaForCausalLM(config)


def train_two_steps(funcs: list, weights: list[float] | None, output_dir: Path) -> list[dict]:
    """Two GRPO steps of 4 completions (2 prompts x 2 generations); TRL's log history."""
    tokenizer = tiny_tokenizer()
    dataset = datasets.Dataset.from_dict(
        {"prompt": list(QUESTIONS), "solution": list(QUESTIONS.values())}
    )
    args = trl.GRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=6,
        max_steps=2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
        reward_weights=weights,
        dataloader_num_workers=0,
    )
    trainer = trl.GRPOTrainer(
        model=tiny_model(tokenizer),
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    return [entry for entry in trainer.state.log_history if "reward" in entry]


def assert_logged_once_each(logs: list[dict], names: Sequence[str], extra: set[str]) -> None:
    """Two logged steps; per function `rewards/<name>/mean` and `/std`, finite; besides
    them only `extra` from the adapter's `log_metric` (keys starting with `names[0]/`)."""
    assert len(logs) == 2
    expected = {f"rewards/{name}/{stat}" for name in names for stat in ("mean", "std")}
    logged = {
        key for entry in logs for key in entry if key.startswith(("rewards/", f"{names[0]}/"))
    }
    assert logged == expected | extra
    for entry in logs:
        for name in names:
            assert math.isfinite(entry[f"rewards/{name}/mean"])


def health_keys(name: str) -> set[str]:
    """The reward-health metrics the adapter logs through `log_metric`."""
    return {f"{name}/health/{signal}" for signal in HEALTH_METRICS}


def close(funcs: list) -> None:
    getattr(funcs[0], "reward_func", funcs[0]).close()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_single_reward_function(tmp_path, is_async):
    make = async_trl_reward if is_async else trl_reward
    funcs = [make("math", workers=1)]
    try:
        logs = train_two_steps(funcs, None, tmp_path)
    finally:
        close(funcs)
    assert_logged_once_each(logs, ["math"], {"math/status_ok", *health_keys("math")})
    assert all(entry["math/status_ok"] == 1.0 for entry in logs)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_pipeline_with_weights(tmp_path, is_async):
    funcs = reward_funcs(PIPELINE, is_async=is_async, workers=1)
    try:
        logs = train_two_steps(funcs.funcs, funcs.weights, tmp_path)
    finally:
        close(funcs.funcs)
    extra = {"math_pipeline/status_ok", *health_keys("math_pipeline")}
    assert_logged_once_each(logs, PIPELINE_NAMES, extra)
    for entry in logs:  # only the total trains: the reward is its mean
        assert entry["reward"] == pytest.approx(entry["rewards/math_pipeline/mean"])
