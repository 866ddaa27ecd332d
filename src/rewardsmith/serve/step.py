"""The training step of a scoring request, for trainers that do not send one.

OpenRLHF's `/get_reward` body has no step and verl passes none, yet `schedule` components
and stateful rewards read `meta.step`. A request's step is the first of:

1. the body's `step` field;
2. the `X-Rewardsmith-Step` header;
3. the step last set with `POST /step {"step": N}` (e.g. by a trainer callback at the
   start of each step), shared by all of the server's workers through a file;
4. `$REWARDSMITH_STEP` in the server's environment;

and is written into `meta.step` of every sample that carries no step of its own.
Without any of them `meta.step` stays absent (step 0).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from starlette.datastructures import Headers

from rewardsmith.adapters import env_step
from rewardsmith.serve.errors import ApiError

HEADER = "X-Rewardsmith-Step"
FILE_NAME = "step"


class StepBoard:
    """The step set with `POST /step`: in the file `directory/step` when the server's
    workers share a directory, else in this process only."""

    def __init__(self, directory: str | None) -> None:
        self._path = None if directory is None else Path(directory) / FILE_NAME
        self._step: int | None = None

    def set(self, step: int) -> None:
        if self._path is None:
            self._step = step
            return
        fd, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".step-")
        with os.fdopen(fd, "w") as out:
            out.write(str(step))
        os.replace(temporary, self._path)  # atomic: a reader sees the old or the new step

    def get(self) -> int | None:
        if self._path is None:
            return self._step
        try:
            return int(self._path.read_text())
        except FileNotFoundError:
            return None

    def resolve(self, field: int | None, headers: Headers) -> int | None:
        """The request's step (see the module docstring); ApiError(422) for a bad header."""
        if field is not None:
            return field
        header = headers.get(HEADER)
        if header is not None:
            if not header.strip().isdigit():
                raise ApiError(
                    422,
                    f"{HEADER}: expected the training step as a non-negative integer, "
                    f"got {header[:40]!r}",
                )
            return int(header)
        board = self.get()
        return board if board is not None else env_step()
