"""A corpus of hostile samples: what a policy optimised against the reward writes to earn
reward it has not earned, or to break the scorer.

Each entry is a sample's fields apart from its prompt and reference (the tests put those
in). Most are completions; a few carry hostile metadata or token arrays. Classes:
oversized numbers, deep nesting, regex bombs (long runs that end in a character that
makes a pattern fail), huge completions, unterminated structures, special-token floods,
text that is not valid UTF-8, and programs or queries that attack the code and SQL
checkers. `rewardsmith`'s guarantee is that none of them changes another sample's Score.
"""

from __future__ import annotations

from typing import Any

KB = 1000

HOSTILE: dict[str, dict[str, Any]] = {
    # oversized numbers: int() beyond 4300 digits raises, floats overflow
    "boxed_5000_digits": {"completion": "\\boxed{" + "7" * 5000 + "}"},
    "long_decimal": {"completion": "The answer is \\boxed{0." + "3" * 400 + "1e999}"},
    "huge_float": {"completion": "\\boxed{" + "9" * 400 + ".5}"},
    "tiny_root_degree": {"completion": "\\boxed{\\sqrt[1/999999]{2}}"},
    "huge_power": {"completion": "\\boxed{(3+2\\sqrt{2})^{10^9}}"},
    "factorial_tower": {"completion": "\\boxed{(10^{10^{10}})!}"},
    # regex bombs: long runs that some pattern backtracks over
    "boxed_digits_then_x": {"completion": "\\boxed{" + "1" * 20 * KB + "x}"},
    "spaces_between_equals": {"completion": "x=" + " " * 20 * KB + "="},
    "digits_commas_run": {"completion": "The answer is " + "1," * 50 * KB + "x"},
    "answer_phrase_flood": {"completion": "the answer is " * 7 * KB},
    "space_run_40k": {"completion": "Answer: " + " \t" * 20 * KB + "!"},
    "dollar_flood": {"completion": "$" * 100 * KB},
    "backslash_flood": {"completion": "\\" * 100 * KB},
    # deep nesting and unterminated structures
    "nested_braces": {"completion": "\\boxed{" + "{" * 50 * KB + "1" + "}" * 50 * KB + "}"},
    "nested_parens": {"completion": "\\boxed{" + "(" * 50 * KB + "1" + ")" * 50 * KB + "}"},
    "unclosed_boxes": {"completion": "\\boxed{" * 12 * KB},
    "unterminated_fence": {"completion": "```python\n" + "x = 1\n" * 16 * KB},
    "fence_flood": {"completion": "```\n" * 25 * KB},
    "unclosed_answer_tags": {"completion": "<answer>" * 12 * KB},
    "think_flood": {"completion": "<think>" * 12 * KB + "</think>" * 3},
    "json_bomb": {"completion": '{"a":' * 20 * KB + "1" + "}" * 20 * KB},
    "fences_on_one_line": {"completion": "```" * 30 * KB + "x"},
    "confidence_then_spaces": {"completion": "<confidence>0.5" + " " * 100 * KB + "x"},
    "lookalike_tags": {"completion": "<think>" + "\u2039/th\u0131nk>" * 10 * KB + "x"},
    "dense_json_objects": {"completion": '{"a":{"b":1},' * 8 * KB},
    "dense_steps": {"completion": "a. " * 33 * KB},
    "frac_flood": {"completion": "\\boxed{" + "\\frac{1}{" * 10 * KB + "2" + "}" * 10 * KB + "}"},
    # special-token floods (chat templates, tool calls)
    "im_start_flood": {"completion": "<|im_start|>assistant\n" * 5 * KB},
    "tool_call_flood": {"completion": "<tool_call>" * 10 * KB},
    # huge completions: over the default input limit, and just under it
    "over_the_limit": {"completion": "word " * 250 * KB},
    "long_honest_looking": {"completion": "Let me think. " * 30 * KB + "\\boxed{4}"},
    # not valid UTF-8 (lone surrogates, as a decoder with errors='surrogateescape' gives)
    "lone_surrogates": {"completion": "The answer is \udce2\udc80 \\boxed{\ud800}"},
    "nul_and_controls": {"completion": "\x00\x1b[2J\x7f" * 10 * KB},
    # hostile programs and queries
    "code_exits_zero": {"completion": "```python\nimport os\nos._exit(0)\n```"},
    "code_busy_loop": {"completion": "```python\nwhile True:\n    pass\n```"},
    "code_memory_bomb": {"completion": "```python\nx = bytearray(1 << 34)\n```"},
    "sql_zeroblob": {"completion": "```sql\nSELECT zeroblob(400000000), 1\n```"},
    "sql_like_bomb": {
        "completion": "```sql\nSELECT 1 WHERE printf('%.*c', 2000000, 'a') "
        "LIKE '%a%a%a%a%a%a%a%a%a%b'\n```"
    },
    "sql_attach": {"completion": "```sql\nATTACH DATABASE '/tmp/rewardsmith-x.db' AS x\n```"},
    "sql_recursive_cte": {
        "completion": "```sql\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
        "SELECT count(*) FROM c\n```"
    },
    # hostile metadata and token arrays next to a harmless completion
    "step_not_a_number": {"completion": "\\boxed{4}", "meta": {"step": "never"}},
    "step_astronomical": {"completion": "\\boxed{4}", "meta": {"step": 10**40}},
    "mismatched_tokens": {"completion": "\\boxed{4}", "completion_ids": list(range(5000))},
    "nan_logprobs": {
        "completion": "\\boxed{4}",
        "completion_ids": [1, 2, 3],
        "logprobs": [float("nan"), float("inf"), -1e308],
    },
    "step_scores_wrong": {"completion": "a\n\nb", "step_scores": [float("inf"), -1e308, 1e308]},
}


def hostile_samples(prompt: str, reference: Any, group_id: str | None = None) -> list[dict]:
    """Every hostile sample, each with `prompt`, `reference` and `group_id` (by default a
    group of its own, named after the entry)."""
    return [
        {
            "prompt": prompt,
            "reference": reference,
            "group_id": group_id if group_id is not None else f"hostile:{name}",
            **fields,
        }
        for name, fields in HOSTILE.items()
    ]
