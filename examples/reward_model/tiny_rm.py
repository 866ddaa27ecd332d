"""A reward model as a reward component, offline: builds two tiny random reward models
(a 2-layer Llama with one output, and a tokenizer trained here on a few sentences), then
scores one prompt's rollouts with each, centred per prompt, and with their worst-case
ensemble. Random weights: the scores mean nothing; the plumbing is what is shown.

    python examples/reward_model/tiny_rm.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import tokenizers
import torch
import transformers

from rewardsmith import Reward

CORPUS = ["two plus three is five", "the cat sat on the mat", "five plus five is ten"]


def build(directory: Path, seed: int) -> str:
    raw = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=80, special_tokens=["<pad>", "<unk>"], show_progress=False
    )
    raw.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>"
    )
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
        num_labels=1, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    transformers.LlamaForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def main() -> None:
    samples = [
        {"prompt": "two plus three is", "completion": text, "group_id": "q1"}
        for text in ("five", "the cat sat on the mat", "ten")
    ]
    with tempfile.TemporaryDirectory() as root:
        first, second = build(Path(root) / "rm_a", 0), build(Path(root) / "rm_b", 1)
        members = [
            {"type": "reward_model", "name": "rm_a", "model": first, "center": "prompt"},
            {"type": "reward_model", "name": "rm_b", "model": second, "center": "prompt"},
        ]
        with Reward.from_spec({"type": "ensemble", "method": "worst", "of": members}) as reward:
            scores = reward.score(samples)
    for sample, score in zip(samples, scores, strict=True):
        parts = {name: round(score.components[name], 3) for name in ("rm_a", "rm_b")}
        print(f"{sample['completion']!r:26} worst {score.value:+.3f} {parts}")
    centred = all(abs(sum(s.components[m] for s in scores)) < 1e-6 for m in ("rm_a", "rm_b"))
    print("each model's scores sum to 0 over the prompt:", centred)


if __name__ == "__main__":
    main()
