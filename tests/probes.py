"""Python run in a fresh interpreter by the tests: for what is process-wide (settings read at
start-up, logging's record factory, Prometheus' multiprocess files) and must not see or leave
the state of the test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(
    code: str, env: dict[str, str], *, timeout: float = 60
) -> subprocess.CompletedProcess:
    """``python -c code`` at the project root with exactly ``env``."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def python_output(code: str, env: dict[str, str], *, timeout: float = 60) -> str:
    """The stdout of ``run_python``; the test fails, with the probe's stderr, if it fails."""
    result = run_python(code, env, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout
