"""The restart that turns on glibc's huge-page malloc: it happens once, and the memory malloc
then hands out is backed by 2 MiB pages."""

import os
import pathlib
import platform
import subprocess
import sys

import pytest

THP = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled")
pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc" or not THP.exists()
    or "[never]" in THP.read_text(), reason="needs glibc and transparent huge pages")

# Prints once per start, then mallocs and touches 64 MiB and prints how much of the process's
# anonymous memory is in huge pages.
PROGRAM = """
import ctypes, os, re
print("start", flush=True)
from genie.hugepages import restart_with_huge_pages
restart_with_huge_pages()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
size = 64 << 20
ctypes.memset(libc.malloc(size), 1, size)
rollup = open("/proc/self/smaps_rollup").read()
print("huge_kib", re.search(r"AnonHugePages:\\s+(\\d+)", rollup).group(1))
print("tunables", os.environ["GLIBC_TUNABLES"])
"""


def run(env_tunables):
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if env_tunables is not None:
        env["GLIBC_TUNABLES"] = env_tunables
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.split("\n")
    return lines.count("start"), int(lines[-3].split()[1]), lines[-2].split()[1]


def test_restarts_once_and_mallocs_huge_pages():
    starts, huge_kib, tunables = run(None)
    assert starts == 2 and tunables == "glibc.malloc.hugetlb=1"
    assert huge_kib >= 32 << 10  # at least half of the 64 MiB block


def test_keeps_other_tunables_and_an_explicit_choice():
    starts, _, tunables = run("glibc.malloc.arena_max=2")
    assert starts == 2 and tunables == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    starts, huge_kib, tunables = run("glibc.malloc.hugetlb=0")
    assert starts == 1 and tunables == "glibc.malloc.hugetlb=0"
    if "[madvise]" in THP.read_text():  # huge pages only where malloc asks for them
        assert huge_kib < 8 << 10
