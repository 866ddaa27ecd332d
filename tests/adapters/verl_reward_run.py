"""A hand-built batch scored by the installed verl's own reward path, with rewardsmith as
its custom reward function: the reward loop (`RewardLoopWorker` and its reward manager)
on verl >= 0.7.1, `load_reward_manager` and the manager it builds before.

Run as a script (`python verl_reward_run.py TOKENIZER_DIR OVERRIDE...`) it prints the
per-sample rewards verl put in its reward tensor as JSON: the tests run an older verl so,
in a process of its own.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

# (question, ground truth, completion, dataset row): words separated by single spaces, so
# that the word-level tokenizer below decodes each completion to exactly its text.
SAMPLES = [
    ("What is 2+2 ?", "4", "<think> 2+2 is 4 </think> \\boxed{4}", 0),
    ("What is 2+2 ?", "4", "<think> maybe 5 </think> \\boxed{5}", 0),
    ("What is 2+2 ?", "4", "it is 4", 0),
    ("What is 3*3 ?", "9", "<think> 3*3 is 9 </think> \\boxed{9}", 1),
    ("What is 3*3 ?", "9", "\\boxed{9}", 1),
    ("What is 3*3 ?", "9", "<think> no idea </think>", 1),
]
DATA_SOURCE = "rewardsmith_test"
PROMPT_LENGTH = 8
RESPONSE_LENGTH = 10


def tokenizer(directory: Path) -> Any:
    """A word-level tokenizer of the samples' words, saved to `directory` (verl's reward
    loop loads its tokenizer from the model path)."""
    import tokenizers
    import transformers

    model = tokenizers.models.WordLevel(unk_token="<unk>")
    words = tokenizers.Tokenizer(model)
    words.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    trainer = tokenizers.trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "</s>"])
    words.train_from_iterator([f"{q} {c}" for q, _, c, _ in SAMPLES], trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    )
    fast.save_pretrained(directory)
    return fast


def data_proto(tok: Any) -> Any:
    """The samples as verl's rollout leaves them: left-padded prompts, right-padded
    responses, one attention mask over both, and the dataset's non-tensor fields."""
    from verl import DataProto

    def ids(text: str, length: int, left: bool) -> tuple[list[int], list[int]]:
        tokens = tok(text, add_special_tokens=False)["input_ids"]
        pad = [tok.pad_token_id] * (length - len(tokens))
        mask = [0] * len(pad)
        ones = [1] * len(tokens)
        return (pad + tokens, mask + ones) if left else (tokens + pad, ones + mask)

    prompts, responses, masks = [], [], []
    for question, _, completion, _ in SAMPLES:
        prompt, prompt_mask = ids(question, PROMPT_LENGTH, left=True)
        response, response_mask = ids(completion, RESPONSE_LENGTH, left=False)
        prompts.append(prompt)
        responses.append(response)
        masks.append(prompt_mask + response_mask)
    prompts_t, responses_t = torch.tensor(prompts), torch.tensor(responses)
    tensors = {
        "prompts": prompts_t,
        "responses": responses_t,
        "input_ids": torch.cat([prompts_t, responses_t], dim=1),
        "attention_mask": torch.tensor(masks),
    }
    non_tensors = {
        "data_source": np.array([DATA_SOURCE] * len(SAMPLES), dtype=object),
        "reward_model": np.array(
            [{"ground_truth": truth, "style": "rule"} for _, truth, _, _ in SAMPLES], dtype=object
        ),
        "extra_info": np.array(
            [{"index": row, "question": q, "split": "train"} for q, _, _, row in SAMPLES],
            dtype=object,
        ),
        "raw_prompt": np.array(
            [[{"role": "user", "content": q}] for q, *_ in SAMPLES], dtype=object
        ),
    }
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def verl_rewards(overrides: list[str], directory: Path) -> list[float]:
    """Per sample, the reward verl put on the response's last token."""
    import verl

    from rewardsmith.adapters.verl_check import REWARD_LOOP, verl_config, version_tuple

    tok = tokenizer(directory)
    data = data_proto(tok)
    if version_tuple(verl.__version__) >= REWARD_LOOP:
        from verl.experimental.reward_loop import RewardLoopWorker
        from verl.trainer.ppo.reward import resolve_reward_manager_cls

        config = verl_config([*overrides, f"actor_rollout_ref.model.path={directory}"])
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            worker = RewardLoopWorker(config)
            outputs = loop.run_until_complete(worker.compute_score_batch(data))
        finally:
            asyncio.set_event_loop(None)
            loop.close()
        scores = [output["reward_score"] for output in outputs]
        tensor = resolve_reward_manager_cls(config).assemble_rm_scores(data, scores)
    else:
        from verl.trainer.ppo.reward import load_reward_manager

        manager = load_reward_manager(verl_config(overrides), tok, num_examine=0)
        tensor = manager(data, return_dict=True)["reward_tensor"]
    lengths = data.batch["attention_mask"][:, PROMPT_LENGTH:].sum(dim=1)
    rows = torch.arange(len(SAMPLES))
    assert tensor.count_nonzero() <= len(SAMPLES)  # nothing but on the last response tokens
    return tensor[rows, lengths - 1].tolist()


if __name__ == "__main__":
    print(json.dumps(verl_rewards(sys.argv[2:], Path(sys.argv[1]))))
