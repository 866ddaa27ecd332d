"""A missing extra is said in one line naming what to install, not a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from rewardsmith.extras import EXTRAS, missing_extra

ROOT = Path(__file__).resolve().parents[2]


def test_every_optional_package_is_mapped_to_its_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for extra in ("serve", "ray", "lm"):
        for requirement in extras[extra]:
            package = re.match(r"[A-Za-z0-9_.-]+", requirement)[0].replace("-", "_").lower()
            assert EXTRAS[package] == extra, requirement


def test_the_cause_of_a_friendlier_import_error_is_read():
    try:
        try:
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        except ImportError as exc:
            raise ImportError("the local LM backend needs torch") from exc
    except ImportError as outer:
        assert missing_extra(outer) == (
            "torch is not installed; this needs the lm extra: pip install 'rewardsmith[lm]'"
        )
    assert missing_extra(ModuleNotFoundError("x", name="yaml")) is None


def test_serve_without_the_serve_extra(tmp_path):
    package = "uvicorn"
    (tmp_path / f"{package}.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{package}'\", name={package!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-m", "rewardsmith", "serve", "--reward", "math"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {package} is not installed; this needs the serve extra: "
        "pip install 'rewardsmith[serve]'\n"
    )
