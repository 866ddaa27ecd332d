"""`reward_model`: a tiny random sequence-classification model built here (no download)
scored locally, batched and chat-templated, against the model called directly;
per-prompt centring and running normalisation kept in the state store; vLLM's
`/classify` and `/pooling` from a scripted HTTP server, and the OpenRLHF `/get_reward`
protocol from a real `rewardsmith serve`; ensembles; servers and models that fail."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") == "true":
    import torch
    import transformers
else:
    _REASON = "the lm extra is not installed: pip install 'rewardsmith[lm]'"
    torch = pytest.importorskip("torch", reason=_REASON)
    transformers = pytest.importorskip("transformers", reason=_REASON)

from rewardsmith.core.pipeline import Reward
from rewardsmith.serve.local import LocalServer
from tests.json_server import JsonServer
from tests.process.test_lm import build_tokenizer

PROMPT = "two plus three is"
COMPLETIONS = ["five", "the cat sat on the mat", "five and five plus five is ten", "ten"]
TEMPLATE = "{% for m in messages %}<bos>{{ m['role'] }} : {{ m['content'] }} <eos>{% endfor %}"


def build_reward_model(directory: Path, seed: int, chat_template: bool = False) -> Path:
    tokenizer = build_tokenizer(with_bos_template=False)
    if chat_template:
        tokenizer.chat_template = TEMPLATE
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        initializer_range=0.5, num_labels=1, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    model = transformers.LlamaForSequenceClassification(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_reward_model(tmp_path_factory.mktemp("rm"), seed=0)


def direct_scores(directory: Path, texts: list[str]) -> list[float]:
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        directory, local_files_only=True
    ).eval()
    with torch.no_grad():
        return [float(model(**tokenizer(text, return_tensors="pt")).logits[0, 0]) for text in texts]


def samples(completions: list[str] = COMPLETIONS, prompt: str = PROMPT, group: str = "g") -> list:
    return [{"prompt": prompt, "completion": c, "group_id": group} for c in completions]


def test_local_scores_are_the_models_logits_whatever_the_batch_size(model_dir):
    expected = direct_scores(model_dir, [PROMPT + c for c in COMPLETIONS])
    for batch_size in (1, 3):
        spec = {"type": "reward_model", "model": str(model_dir), "batch_size": batch_size}
        with Reward.from_spec(spec) as reward:
            scores = reward.score(samples())
        assert [s.value for s in scores] == pytest.approx(expected, abs=1e-4)
        assert [s.info["reward_model"]["raw"] for s in scores] == pytest.approx(expected, abs=1e-4)
    assert len(set(round(v, 4) for v in expected)) > 1  # the model tells them apart


def test_the_chat_template_renders_prompt_and_completion(tmp_path):
    directory = build_reward_model(tmp_path / "chat", seed=1, chat_template=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    rendered = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": c}],
            tokenize=False,
        )
        for c in COMPLETIONS
    ]
    with Reward.from_spec({"type": "reward_model", "model": str(directory)}) as reward:
        scores = reward.score(samples())
    assert [s.value for s in scores] == pytest.approx(direct_scores(directory, rendered), abs=1e-4)


def test_centring_per_prompt_removes_each_groups_mean(model_dir):
    batch = samples(COMPLETIONS[:2], group="a") + samples(COMPLETIONS[2:], "the cat sat", "b")
    spec = {"type": "reward_model", "model": str(model_dir), "center": "prompt"}
    with Reward.from_spec(spec) as reward:
        scores = reward.score(batch)
    for group in (scores[:2], scores[2:]):
        assert sum(s.value for s in group) == pytest.approx(0.0, abs=1e-9)
        raw = [s.info["reward_model"]["raw"] for s in group]
        assert group[0].value - group[1].value == pytest.approx(raw[0] - raw[1])


def test_running_normalisation_is_kept_in_the_state_store(model_dir, tmp_path):
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    spec = {"type": "reward_model", "model": str(model_dir), "normalize": "running"}
    with Reward.from_spec(spec, state=state) as reward:
        first = reward.score(samples(COMPLETIONS[:2]))
    with Reward.from_spec(spec, state=state) as reward:  # a restart keeps the statistics
        second = reward.score(samples(COMPLETIONS[2:]))
    raw = [s.info["reward_model"]["raw"] for s in first + second]
    mean = sum(raw) / 4
    std = (sum(v * v for v in raw) / 4 - mean * mean) ** 0.5
    for score, value in zip(second, raw[2:], strict=True):
        assert score.info["reward_model"]["running_mean"] == pytest.approx(mean)
        assert score.value == pytest.approx((value - mean) / std)
    assert sum(s.value for s in first) == pytest.approx(0.0, abs=1e-9)  # first: by itself


def test_an_ensemble_of_reward_models_takes_the_worst_case(model_dir, tmp_path):
    other = build_reward_model(tmp_path / "other", seed=2)
    members = [{"type": "reward_model", "model": str(model_dir), "name": "rm_a"},
               {"type": "reward_model", "model": str(other), "name": "rm_b"}]  # fmt: skip
    with Reward.from_spec({"type": "ensemble", "of": members, "method": "worst"}) as reward:
        scores = reward.score(samples())
    for score in scores:
        assert score.value == pytest.approx(min(score.components["rm_a"], score.components["rm_b"]))


class ScriptedPoolingServer(JsonServer):
    """vLLM's /classify and /pooling, answering a score that is a function of the text
    (the rows in reverse order: they are put back by their index)."""

    def __init__(self) -> None:
        self.fail_next = False
        super().__init__(self.respond)

    def respond(self, path: str, body: Any) -> tuple[int, Any]:
        if self.fail_next:
            self.fail_next = False
            return 500, None
        texts = body["input"]
        if path == "/classify":
            data = [{"index": i, "probs": [score(t), 1 - score(t)], "num_classes": 2}
                    for i, t in enumerate(texts)]  # fmt: skip
        else:  # per-token scores: the last token's is the reward
            data = [{"index": i, "data": [[0.0], [score(t)]]} for i, t in enumerate(texts)]
        return 200, {"data": list(reversed(data))}


def score(text: str) -> float:
    return (len(text) % 10) / 10


@pytest.fixture(scope="module")
def pooling_server() -> Iterator[ScriptedPoolingServer]:
    server = ScriptedPoolingServer()
    yield server
    server.stop()


@pytest.mark.parametrize("protocol", ["vllm_classify", "vllm_pooling"])
def test_vllm_classify_and_pooling(pooling_server, protocol):
    spec = {"type": "reward_model", "url": pooling_server.url, "protocol": protocol,
            "served_model": "my-rm", "batch_size": 3}  # fmt: skip
    with Reward.from_spec(spec) as reward:
        scores = reward.score(samples())
    assert [s.value for s in scores] == pytest.approx([score(PROMPT + c) for c in COMPLETIONS])
    assert pooling_server.bodies[-1]["model"] == "my-rm"


def test_a_failing_server_gives_errors_naming_it(pooling_server):
    spec = {"type": "reward_model", "url": pooling_server.url, "fallback": -1.0}
    pooling_server.fail_next = True
    with Reward.from_spec(spec) as reward:
        scores = reward.score(samples())
    assert all(s.status.value == "error" and s.value == -1.0 for s in scores)
    assert pooling_server.url in scores[0].info["reward_model"]["error"]
    unreachable = {"type": "reward_model", "url": "http://127.0.0.1:9", "timeout": 2}
    with Reward.from_spec(unreachable) as reward:
        assert reward.score(samples())[0].status.value == "error"


def test_openrlhf_protocol_against_a_real_reward_server(tmp_path):
    """Another RM server speaking OpenRLHF's /get_reward: `rewardsmith serve` itself,
    serving `answered` (1 when the response gives one final answer)."""
    with LocalServer("answered", workers=1, log_path=tmp_path / "serve.log") as server:
        spec = {"type": "reward_model", "url": server.url + "/get_reward", "protocol": "openrlhf"}
        with Reward.from_spec(spec) as reward:
            scores = reward.score(samples(["So \\boxed{5}.", "It is 5 or 6."], prompt="Q: "))
    assert [s.value for s in scores] == [1.0, 0.0]
    assert all(s.ok for s in scores)


def test_a_model_directory_that_is_not_one_is_an_error_saying_so(tmp_path):
    spec = {"type": "reward_model", "model": str(tmp_path)}
    with Reward.from_spec(spec) as reward:
        [score] = reward.score(samples(["five"]))
    assert score.status.value == "error"
    assert "cannot load a sequence-classification model" in score.info["reward_model"]["error"]


def test_model_or_url_exactly_one():
    from rewardsmith.core.config import ConfigError

    with pytest.raises(ConfigError, match="model, url"):
        Reward.from_spec({"type": "reward_model"})


def test_the_offline_example_builds_its_models_and_centres_each():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "reward_model" / "tiny_rm.py")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "each model's scores sum to 0 over the prompt: True" in result.stdout
    assert result.stdout.count("worst") == 3


def test_a_device_that_does_not_exist_here_is_an_error_naming_it(model_dir):
    spec = {"type": "reward_model", "model": str(model_dir), "device": "cuda:7"}
    with Reward.from_spec(spec) as reward:
        [score] = reward.score(samples(["five"]))
    assert score.status.value == "error" and "cuda:7" in score.info["reward_model"]["error"]


def test_the_offline_remote_example_scores_through_a_real_server():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "reward_model" / "remote_rm.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert [line.split()[-1] for line in result.stdout.splitlines()] == ["1.0", "0.0", "0.0"]
