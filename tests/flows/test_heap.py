"""Freed large arrays go back to the system, so a long stream's resident memory follows what it holds."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A 20 MB array freed (glibc then raises its mmap threshold to 20 MB), then 3 MB arrays freed
# between small live ones: without the fix they are carved from the heap and 30 MB stay resident.
PROGRAM = """
import numpy as np
from flows.heap import keep_large_allocations_mapped

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

keep_large_allocations_mapped()
np.ones(20 << 18, dtype=np.float32)  # allocated and freed at once
base = rss_mb()
blocks = [np.ones(3 << 18, dtype=np.float32) for _ in range(10)]
small = [np.ones(16) for _ in range(10)]
del blocks
print(rss_mb() - base)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_freed_large_arrays_do_not_stay_resident():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # only the call in PROGRAM may fix it
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert float(out.stdout) < 5.0
