"""The local causal-LM backend, on a tiny random model and tokenizer built here (no download).

Outside CI the module is skipped when the `lm` extra is missing; in CI (CI=true) a missing
torch or transformers fails the run instead.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys

import pytest

if os.environ.get("CI") == "true":
    import tokenizers
    import torch
    import transformers
else:
    _REASON = "the lm extra is not installed: pip install 'rewardsmith[lm]'"
    torch = pytest.importorskip("torch", reason=_REASON)
    transformers = pytest.importorskip("transformers", reason=_REASON)
    tokenizers = pytest.importorskip("tokenizers", reason=_REASON)

from rewardsmith.process.lm import (
    CausalLM,
    LMUnavailableError,
    ModelNotFoundError,
    TokenLogprobs,
    _offsets_by_decoding,
    clear_lm_cache,
    load_lm,
)

torch.set_num_threads(2)

CORPUS = [
    "the cat sat on the mat and the dog sat on the log",
    "two plus three is five and five plus five is ten",
    "a step by step answer : first add , then divide , so x = 12",
    "reasoning models think before they answer the question",
    "the answer is 42 because six times seven is 42",
]
PROMPTS = ["the cat sat", "two plus three is", "", "reasoning models think before they"]
COMPLETIONS = [
    "on the mat",
    "five",
    "the answer is 42 because six times seven is 42 and the dog sat on the log",
    "answer the question , step by step",
]


def build_tokenizer(with_bos_template: bool):
    """A small BPE tokenizer trained on CORPUS; optionally it puts <bos> before each input."""
    model = tokenizers.models.BPE(unk_token="<unk>")
    raw = tokenizers.Tokenizer(model)
    raw.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=120, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"], show_progress=False
    )
    raw.train_from_iterator(CORPUS, trainer=trainer)
    if with_bos_template:
        raw.post_processor = tokenizers.processors.TemplateProcessing(
            single="<bos> $A", special_tokens=[("<bos>", raw.token_to_id("<bos>"))]
        )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )


def build_model(tokenizer):
    """A 2-layer Llama with weights large enough that next-token distributions are sharp."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        initializer_range=0.5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = transformers.LlamaForCausalLM(config)
    return model.eval()


@pytest.fixture(scope="module", params=[True, False], ids=["bos-template", "no-template"])
def tiny(request, tmp_path_factory):
    """(directory, in-memory model, tokenizer) of a tiny model saved with save_pretrained."""
    tokenizer = build_tokenizer(with_bos_template=request.param)
    model = build_model(tokenizer)
    path = tmp_path_factory.mktemp("tiny-lm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model, tokenizer


@pytest.fixture(scope="module")
def lm(tiny):
    return CausalLM(tiny[0])


def by_hand(model, tokenizer, prompt, completion):
    """The completion's ids and log p(y_t | prompt, y_<t), from one unpadded forward pass."""
    plain = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = tokenizer(prompt)["input_ids"]
    context = full[: len(full) - len(plain)] + plain  # the tokenizer's prefix, then the text
    if not plain:
        context = [tokenizer.bos_token_id]  # an empty prompt starts from <bos>
    target = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([context + target])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    rows = torch.arange(len(context) - 1, len(context) + len(target) - 1)
    return target, logprobs[rows, ids[0, len(context) :]].tolist(), logprobs


def test_matches_a_direct_forward_pass_with_padding(lm, tiny):
    _, model, tokenizer = tiny
    lengths = {len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in COMPLETIONS}
    assert len(lengths) == len(COMPLETIONS)  # all different: padding is exercised
    results = lm.token_logprobs(PROMPTS, COMPLETIONS, batch_size=4)
    assert len(results) == len(COMPLETIONS)
    for prompt, completion, result in zip(PROMPTS, COMPLETIONS, results, strict=True):
        ids, expected, _ = by_hand(model, tokenizer, prompt, completion)
        assert result.ids == ids
        assert result.logprobs == pytest.approx(expected, abs=1e-5)


def test_the_comparison_would_catch_an_off_by_one(lm, tiny):
    """The model is sharp enough that a shifted gather gives clearly different numbers."""
    _, model, tokenizer = tiny
    ids, expected, logprobs = by_hand(model, tokenizer, PROMPTS[0], COMPLETIONS[0])
    start = logprobs.shape[0] - len(ids)
    shifted = [logprobs[start + t, token].item() for t, token in enumerate(ids)]
    assert max(abs(a - b) for a, b in zip(shifted, expected, strict=True)) > 0.1
    assert max(expected) - min(expected) > 0.5


def test_independent_of_batch_size_and_order(lm):
    reference = lm.token_logprobs(PROMPTS, COMPLETIONS, batch_size=8)
    for batch_size in (1, 2, 3):
        again = lm.token_logprobs(PROMPTS, COMPLETIONS, batch_size=batch_size)
        for a, b in zip(reference, again, strict=True):
            assert (a.ids, a.offsets) == (b.ids, b.offsets)
            assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)
    reversed_results = lm.token_logprobs(PROMPTS[::-1], COMPLETIONS[::-1], batch_size=2)
    for a, b in zip(reference, reversed_results[::-1], strict=True):
        assert a.ids == b.ids
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


def test_offsets_are_each_tokens_own_text_in_order(lm, tiny):
    """With a whitespace pre-tokenizer and no subword prefix, each token's span holds exactly
    the token's text (or the unknown text for <unk>), spans are in order, and together they
    are the completion's text less its whitespace."""
    tokenizer = tiny[2]
    completions = [*COMPLETIONS, "  leading and   trailing  ", "sevenfold cats!"]
    results = lm.token_logprobs(["the"] * len(completions), completions)
    for completion, result in zip(completions, results, strict=True):
        assert len(result.offsets) == len(result.ids) == len(result.logprobs)
        previous_end = 0
        for (start, end), token in zip(
            result.offsets, tokenizer.convert_ids_to_tokens(result.ids), strict=True
        ):
            assert previous_end <= start < end <= len(completion)
            assert completion[start:end] == token or token == tokenizer.unk_token
            previous_end = end
        covered = "".join(completion[start:end] for start, end in result.offsets)
        assert covered == re.sub(r"\s+", "", completion)


def test_offsets_from_decoded_prefixes(lm, tiny):
    """The fallback for tokenizers without offsets: spans follow each other and cover the
    text when decoding gives it back (this tokenizer decodes words joined by one space)."""
    tokenizer = tiny[2]
    completion = "on the mat"
    (result,) = lm.token_logprobs(["the cat sat"], [completion])
    spans = _offsets_by_decoding(tokenizer, completion, result.ids)
    assert [completion[start:end].strip() for start, end in spans] == ["on", "the", "mat"]
    assert spans[0][0] == 0 and spans[-1][1] == len(completion)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_sequence_logprob_is_the_sum_of_token_logprobs(lm, tiny):
    _, model, tokenizer = tiny
    totals = lm.sequence_logprob(PROMPTS, COMPLETIONS, batch_size=3)
    for prompt, completion, total in zip(PROMPTS, COMPLETIONS, totals, strict=True):
        _, expected, _ = by_hand(model, tokenizer, prompt, completion)
        assert total == pytest.approx(sum(expected), abs=1e-4)
    tokens = lm.token_logprobs(PROMPTS, COMPLETIONS, batch_size=3)
    assert totals == pytest.approx([sum(t.logprobs) for t in tokens], abs=1e-9)


def test_empty_inputs(lm):
    assert lm.token_logprobs([], []) == []
    assert lm.token_logprobs(["the cat"], [""]) == [TokenLogprobs([], [], [])]
    assert lm.sequence_logprob(["the cat", ""], ["", ""]) == [0.0, 0.0]


def test_long_prompts_are_cut_from_the_front(tiny):
    path, model, tokenizer = tiny
    short = CausalLM(path, max_length=12)
    prompt = " ".join(CORPUS[:2])
    completion = "on the mat"
    target = tokenizer(completion, add_special_tokens=False)["input_ids"]
    with pytest.warns(RuntimeWarning, match="max_length=12"):
        (result,) = short.token_logprobs([prompt], [completion])
    plain = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = tokenizer(prompt)["input_ids"]
    prefix = full[: len(full) - len(plain)]  # <bos> with the template, nothing without
    room = 12 - len(target) - len(prefix)
    context = prefix + plain[len(plain) - room :]
    ids = torch.tensor([context + target])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0], dim=-1)
    expected = [logprobs[len(context) - 1 + t, token].item() for t, token in enumerate(target)]
    assert len(context) + len(target) == 12
    assert result.logprobs == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="max_length=12"):
        short.token_logprobs(["the"], [" ".join(CORPUS)])


def test_a_path_without_a_model_names_the_path(tmp_path, tiny):
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelNotFoundError, match=re.escape(str(missing))):
        CausalLM(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match=re.escape(str(empty))):
        CausalLM(empty)
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    (config_only / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ModelNotFoundError, match=re.escape(str(config_only))):
        CausalLM(config_only)
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (no_weights / name).write_bytes((tiny[0] / name).read_bytes())
    with pytest.raises(ModelNotFoundError, match=re.escape(str(no_weights))):
        CausalLM(no_weights)


def test_mismatched_lengths_and_bad_arguments(lm):
    with pytest.raises(ValueError, match="differ in length"):
        lm.token_logprobs(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="differ in length"):
        lm.sequence_logprob(["a"], [])
    with pytest.raises(TypeError, match="single string"):
        lm.token_logprobs("a", "b")
    with pytest.raises(ValueError, match="batch_size"):
        lm.token_logprobs(["a"], ["b"], batch_size=0)
    with pytest.raises(ValueError, match="dtype"):
        CausalLM("anywhere", dtype="float64")


def test_missing_extra_says_how_to_install(monkeypatch, tiny):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(LMUnavailableError, match=re.escape("pip install 'rewardsmith[lm]'")):
        CausalLM(tiny[0])


def test_load_lm_loads_each_model_once(tiny):
    clear_lm_cache()
    path = tiny[0]
    first = load_lm(path)
    assert load_lm(str(path) + "/.") is first
    assert load_lm(path, dtype="bfloat16") is not first
    clear_lm_cache()
    assert load_lm(path) is not first
    clear_lm_cache()


def test_nothing_is_fetched_from_a_hub(monkeypatch):
    """A hub repo id is not a local directory: it is refused, not downloaded."""
    with pytest.raises(ModelNotFoundError, match="nothing is downloaded"):
        CausalLM("gpt2")


@pytest.fixture(scope="module")
def policy_and_reference(tmp_path_factory):
    """Two tiny models with one tokenizer: the policy, and a perturbed reference."""
    tokenizer = build_tokenizer(with_bos_template=True)
    paths = []
    for perturbed in (False, True):
        model = build_model(tokenizer)
        if perturbed:
            torch.manual_seed(1)
            with torch.no_grad():
                for weight in model.parameters():
                    weight.add_(0.2 * torch.randn_like(weight))
        path = tmp_path_factory.mktemp("reference" if perturbed else "policy")
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths.append(str(path))
    return paths


def test_implicit_prm_from_local_models_sums_token_rewards_per_step(policy_and_reference):
    from rewardsmith.core.pipeline import Reward

    policy, reference = policy_and_reference
    sample = {"prompt": "the cat sat", "completion": "on the mat\n\nthe dog sat on the log"}
    spec = {"type": "process", "source": "implicit_prm", "model": policy, "ref_model": reference}
    with Reward.from_spec(spec) as reward:
        [score] = reward.score([sample])
    [mine] = load_lm(policy).token_logprobs([sample["prompt"]], [sample["completion"]])
    [theirs] = load_lm(reference).token_logprobs([sample["prompt"]], [sample["completion"]])
    tokens = [0.05 * (a - b) for a, b in zip(mine.logprobs, theirs.logprobs, strict=True)]
    split = next(i for i, (start, _) in enumerate(mine.offsets) if start >= 12)  # "the dog"
    assert [s.reward for s in score.dense] == pytest.approx(
        [sum(tokens[:split]), sum(tokens[split:])]
    )
    assert [(s.token_start, s.token_end) for s in score.dense] == [(0, split), (split, len(tokens))]
    assert score.value == pytest.approx(sum(tokens))
    same = {**spec, "ref_model": policy}  # the policy against itself: no process reward
    with Reward.from_spec(same) as reward:
        assert reward.score([sample])[0].value == 0.0


def test_likelihood_reward_is_the_answers_log_probability_after_the_reasoning(
    policy_and_reference,
):
    from rewardsmith.core.pipeline import Reward

    policy, _ = policy_and_reference
    samples = [
        {
            "prompt": "two plus three is",
            "completion": "<think>add</think> five",
            "reference": "five",
        },
        {
            "prompt": "two plus three is",
            "completion": "step by step",
            "reference": {"answer": "ten"},
        },
        {"prompt": "two plus three is", "completion": "five"},
    ]
    template = " the answer is {reference}"
    with Reward.from_spec({"type": "likelihood", "model": policy, "template": template}) as reward:
        first, second, missing = reward.score(samples)
    lm = load_lm(policy)
    expected = lm.sequence_logprob(
        ["two plus three is<think>add</think>", "two plus three isstep by step"],
        [" the answer is five", " the answer is ten"],
    )
    assert [first.value, second.value] == pytest.approx(expected)
    assert missing.status.value == "invalid" and "reference" in str(missing.info)
    spec = {"type": "likelihood", "model": policy, "template": template, "form": "prob"}
    with Reward.from_spec(spec) as reward:
        assert reward.score(samples[:1])[0].value == pytest.approx(math.exp(expected[0]))
