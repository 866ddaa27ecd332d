"""The reward-health report as one self-contained HTML page: the numbers of health.py
drawn with matplotlib as inline SVG (no script, no stylesheet or font from anywhere
else: the page works offline and in a mail), each panel with one line saying what it
shows. `rewardsmith report` writes it (and the numbers as JSON with `--json`).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt

matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "rewardsmith",
                            "font.size": 9, "axes.spines.top": False,
                            "axes.spines.right": False})  # fmt: skip

MAX_COMPONENTS = 12
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "section{margin:2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"
    "p.what{color:#555;margin:.2em 0 .8em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}figure{margin:0}"
)


def render(numbers: Mapping[str, Any]) -> str:
    """The whole page."""
    steps = numbers["steps"]
    last = steps[-1]
    sections = [
        _section("Rewards", "How each component's rewards are spread (last step).",
                 _figure(_histograms, last)),
        _section("Statuses and reasons for 0",
                 "How samples ended, and the commonest reasons for a reward of 0 (codes).",
                 _figure(_reasons, last)),
        _section("Groups without signal",
                 f"{last['zero_variance_groups']} of {last['groups']} groups have all rewards "
                 "equal (GRPO learns nothing from them); "
                 f"{last['identical_completions']:.0%} of samples repeat another of their group.",
                 ""),
        _section("Reward against length",
                 "Each sample's reward against its completion's length in characters; rank "
                 f"correlation {_number(last['length_reward_rank_correlation'])}.",
                 _figure(_length_scatter, last)),
        _section("Components against each other",
                 "Rank correlation, and STARC-style distance (0: same per-prompt ordering and "
                 "spacing, 1: opposite), of every two components.",
                 _pairs_table(last)),
    ]  # fmt: skip
    if last["label_audit"]:
        sections.append(
            _section(
                "Verifiers against labels",
                "Each component as a verifier (>= 0.5 said correct) against the `label` "
                "field: error rates with 95% Wilson intervals, and examples.",
                _audit_table(last["label_audit"]),
            )
        )
    if last["slowest"]:
        sections.append(
            _section(
                "Slowest samples",
                "The samples whose checks took longest (last step), longest first.",
                _slowest_table(last["slowest"]),
            )
        )
    if "versus" in numbers:
        versus = numbers["versus"]
        sections.append(
            _section(
                "Two rewards on the same rollouts",
                f"This reward (last step) against {Path(versus['file']).name} on the "
                f"{versus['samples']} samples both scored: rank correlation "
                f"{_number(versus['spearman'])}, STARC-style distance "
                f"{_number(versus['starc_distance'])} (0: same per-prompt ordering and "
                f"spacing, 1: opposite); right (>= 0.5) by this one only: "
                f"{versus['only_first_right']}, by the other only: "
                f"{versus['only_second_right']}.",
                _figure(_versus_scatter, versus) + _apart_table(versus["furthest_apart"]),
            )
        )
    if len(steps) > 1:
        sections.append(
            _section(
                "Drift over steps",
                "Headline numbers across the files, in order (one file per training step).",
                _figure(_drift, numbers["drift"]),
            )
        )
    files = ", ".join(html.escape(Path(name).name) for name in numbers["files"])
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>rewardsmith reward health</title><style>{STYLE}</style></head><body>"
        f"<h1>Reward health</h1><p class='what'>{len(steps)} step(s): {files}; "
        f"{last['samples']} samples in the last.</p>{''.join(sections)}</body></html>"
    )


def _section(title: str, what: str, body: str) -> str:
    heading = f"<h2>{html.escape(title)}</h2><p class='what'>{html.escape(what)}</p>"
    return f"<section>{heading}{body}</section>"


def _figure(draw: Any, data: Any) -> str:
    figure = draw(data)
    if figure is None:
        return "<p>(nothing to draw)</p>"
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return "<figure>" + text[text.index("<svg") :] + "</figure>"


def _histograms(step: Mapping[str, Any]) -> Any:
    series = [("reward", step["reward"]), *list(step["components"].items())[:MAX_COMPONENTS]]
    series = [(name, stats) for name, stats in series if stats.get("values")]
    if not series:
        return None
    columns = min(4, len(series))
    rows = -(-len(series) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 2.2 * rows), squeeze=False)
    for axis in axes.flat[len(series) :]:
        axis.set_visible(False)
    for axis, (name, stats) in zip(axes.flat, series, strict=False):
        axis.hist(stats["values"], bins=20, color="#4a7bb7")
        axis.set_title(name, fontsize=9)
    figure.tight_layout()
    return figure


def _reasons(step: Mapping[str, Any]) -> Any:
    statuses, reasons = step["statuses"], step["zero_reasons"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 2.6))
    left.barh(list(statuses), list(statuses.values()), color="#6a9f58")
    left.set_title("statuses")
    if reasons:
        right.barh(list(reasons)[::-1], list(reasons.values())[::-1], color="#c8553d")
    right.set_title("reasons for 0")
    figure.tight_layout()
    return figure


def _length_scatter(step: Mapping[str, Any]) -> Any:
    points = step["length_reward"]
    return _scatter(points["length"], points["reward"], "completion length (characters)",
                    "reward", (6, 3))  # fmt: skip


def _versus_scatter(versus: Mapping[str, Any]) -> Any:
    points = versus["points"]
    return _scatter(points["other_reward"], points["reward"], "the other reward", "this reward",
                    (4, 4))  # fmt: skip


def _scatter(x: list[float], y: list[float], x_label: str, y_label: str, size: Any) -> Any:
    if not x:
        return None
    figure, axis = plt.subplots(figsize=size)
    axis.scatter(x, y, s=8, alpha=0.6, color="#4a7bb7")
    axis.set_xlabel(x_label)
    axis.set_ylabel(y_label)
    return figure


def _drift(drift: Mapping[str, Any]) -> Any:
    panels = [("mean length", {"mean length": drift["mean_length"]}),
              ("mean reward", {"reward": drift["mean_reward"]}),
              ("component means", drift["component_means"]),
              ("component shares", drift["component_shares"]),
              ("rates", {"format": drift["format_rate"],
                         "identical completions": drift["identical_completions"],
                         "groups without signal": drift["zero_variance_share"]})]  # fmt: skip
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6))
    for axis, (title, lines) in zip(axes, panels, strict=True):
        for name, values in list(lines.items())[:MAX_COMPONENTS]:
            points = [(i, v) for i, v in enumerate(values) if v is not None]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", ms=3, label=name)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("step")
    if drift["component_means"]:
        axes[2].legend(fontsize=6)
    figure.tight_layout()
    return figure


def _pairs_table(step: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(pair)}</td><td>{_number(value)}</td>"
        f"<td>{_number(step['starc_distance'][pair])}</td></tr>"
        for pair, value in step["correlation"].items()
    )
    if not rows:
        return "<p>(one component only)</p>"
    return (
        "<table><tr><th>components</th><th>rank correlation</th><th>STARC distance</th></tr>"
        f"{rows}</table>"
    )


def _audit_table(audit: Mapping[str, Any]) -> str:
    rows = []
    for name, entry in audit.items():
        low_fp, high_fp = entry["false_positive_interval"]
        low_fn, high_fn = entry["false_negative_interval"]
        examples = "<br>".join(
            html.escape(text[:120]) for text in entry["false_positive_examples"][:2]
        )
        rows.append(
            f"<tr><td>{html.escape(name)}</td>"
            f"<td>{_number(entry['false_positive_rate'])} [{low_fp:.2f}, {high_fp:.2f}]</td>"
            f"<td>{_number(entry['false_negative_rate'])} [{low_fn:.2f}, {high_fn:.2f}]</td>"
            f"<td style='text-align:left'>{examples}</td></tr>"
        )
    return (
        "<table><tr><th>component</th><th>false positives</th><th>false negatives</th>"
        f"<th>false-positive examples</th></tr>{''.join(rows)}</table>"
    )


def _apart_table(apart: list[Mapping[str, Any]]) -> str:
    if not apart:
        return ""
    rows = "".join(
        f"<tr><td>{_number(entry['reward'])}</td><td>{_number(entry['other_reward'])}</td>"
        f"<td style='text-align:left'>{html.escape(entry['completion'][:200])}</td></tr>"
        for entry in apart
    )
    return (
        "<p class='what'>The samples the two rank furthest apart:</p><table><tr>"
        f"<th>this reward</th><th>the other</th><th>completion</th></tr>{rows}</table>"
    )


def _slowest_table(slowest: list[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{entry['seconds']:.3f}</td><td>{_number(entry['reward'])}</td>"
        f"<td>{html.escape(str(entry['status']))}</td>"
        f"<td style='text-align:left'>{html.escape(entry['completion'][:120])}</td></tr>"
        for entry in slowest
    )
    return (
        "<table><tr><th>seconds</th><th>reward</th><th>status</th><th>completion</th></tr>"
        f"{rows}</table>"
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
