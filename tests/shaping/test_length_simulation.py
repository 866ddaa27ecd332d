"""Qualitative checks of bench/length_simulation.py on a small seeded batch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import length_simulation as sim


@pytest.fixture(scope="module")
def batch() -> sim.Batch:
    rng = np.random.default_rng(7)
    return sim.sample_batch(rng, sim.make_prompts(rng, 128))


@pytest.fixture(scope="module")
def analysis(batch: sim.Batch) -> dict:
    return sim.grpo_lambda_analysis(batch, fraction=0.2)


def test_group_advantages() -> None:
    assert np.allclose(sim.group_advantages([1.0, 1.0, 1.0]), 0.0)
    adv = sim.group_advantages([0.0, 1.0, 1.0, 0.0])
    assert np.allclose(adv, np.array([-1, 1, 1, -1]) * 0.5 / np.std([0, 1, 1, 0], ddof=1))


def test_lengths_grow_with_difficulty(batch: sim.Batch) -> None:
    hard = batch.success < 1 / 3
    easy = batch.success >= 2 / 3
    assert batch.lengths[hard].mean() > batch.lengths[easy].mean()
    assert batch.lengths[~batch.correct].mean() > batch.lengths[batch.correct].mean()


def test_grpo_lambda_penalises_only_the_most_accurate_groups(analysis: dict) -> None:
    ratios, selected = analysis["ratios"], analysis["selected"]
    chosen = [r for r, s in zip(ratios, selected, strict=True) if s]
    others = [r for r, s in zip(ratios, selected, strict=True) if not s]
    assert len(chosen) == int(np.ceil(0.2 * len(ratios)))
    assert min(chosen) >= max(others)
    assert min(chosen) > 0


def test_grpo_lambda_length_pressure_only_in_selected_groups(analysis: dict) -> None:
    selected_corrs, plain_corrs = [], []
    for stats, chosen in zip(analysis["stats"], analysis["selected"], strict=True):
        if stats.corr is None:
            continue
        if chosen:
            selected_corrs.append(stats.corr)
        else:
            plain_corrs.append(stats.corr)
            # advantage of correct rollouts is identical whatever their length
            assert stats.spread == pytest.approx(0.0, abs=1e-12)
    assert selected_corrs and plain_corrs
    assert max(selected_corrs) < 0  # advantage falls with length in every selected group
    assert all(c == 0.0 for c in plain_corrs)

    rows = {label: s for label, _, s, _ in sim.grpo_lambda_rows(analysis)}
    top = rows["penalised (top)"]
    assert top["a_short"] > top["a_long"]
    assert top["r_short"] > top["r_long"]
    for label, s in rows.items():
        if label != "penalised (top)":
            assert s["r_short"] == s["r_long"] == 1.0


def test_laser_d_targets_ordered_and_adaptive(batch: sim.Batch) -> None:
    laser = sim.laser_analysis(batch)
    targets = [laser[b]["target_d"] for b in sim.BUCKETS]
    assert targets == sorted(targets)
    assert targets[0] < targets[-1]
    # a single fixed target is looser than LASER-D on easy prompts
    assert laser["easy"]["bonus_fixed"] > laser["easy"]["bonus_d"]
    # ... and tighter on hard ones
    assert laser["hard"]["bonus_fixed"] < laser["hard"]["bonus_d"]


def test_policy_loop_keeps_hard_prompts_long_under_grpo_lambda() -> None:
    rng = np.random.default_rng(3)
    success = sim.make_prompts(rng, 96)
    kimi = sim.policy_loop(success, sim.SHAPERS["kimi"], steps=8, seed=4)
    lam = sim.policy_loop(success, sim.SHAPERS["grpo-lambda"], steps=8, seed=4)
    assert kimi[-1]["hard"] < lam[-1]["hard"]
    assert lam[-1]["easy"] < lam[0]["easy"]
    assert kimi[-1]["accuracy"] == lam[-1]["accuracy"]  # same draws, length-independent


def test_main_runs_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    out = sim.main(["--prompts", "64", "--steps", "2"])
    printed = capsys.readouterr().out
    assert printed.strip().splitlines()[-1] == out["summary"]
    assert out["summary"].startswith("grpo-lambda:")
