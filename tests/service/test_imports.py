"""The index library and the encoder backends load together in one process, in either order."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("order", ["import usearch.index, onnxruntime, torch", "import onnxruntime, usearch.index"])
def test_usearch_and_onnxruntime_import_in_either_order(order):
    # usearch 2.26 made `import onnxruntime` segfault when it came second (pinned below it in pyproject.toml)
    result = subprocess.run([sys.executable, "-c", order], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-500:]
