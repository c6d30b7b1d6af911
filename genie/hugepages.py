"""Restarts a script with glibc's malloc asking the kernel for 2 MiB pages.

XLA's CPU runtime allocates its large buffers afresh on every step and frees them after; glibc
hands big freed blocks back to the kernel, so every 4 KiB page of the next step's buffers faults
on first touch. On configs/cpu.py that is ~13 million page faults in 10 steps of each stage and
over a quarter of the CPU time spent in the kernel. The tunable `glibc.malloc.hugetlb=1` makes
malloc mark its memory for transparent huge pages, which cuts the faults ~16x and a training step
~40% (docs/record.md, "Training speed"); results are bit-identical. glibc reads its tunables once, when the
process starts, so the only way to set one from Python is to start again: `os.execv` replaces the
process (same PID, same arguments) before any work is done. A GLIBC_TUNABLES that already names
the tunable is left alone (`glibc.malloc.hugetlb=0` turns this off); other systems are untouched.
"""

from __future__ import annotations

import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb"


def enable_for_new_processes() -> bool:
    """Add `glibc.malloc.hugetlb=1` to this process's GLIBC_TUNABLES, which the processes it starts
    from now on inherit. False, changing nothing, where the tunable is already named or malloc is
    not glibc's."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if TUNABLE in tunables or sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{TUNABLE}=1" if tunables else f"{TUNABLE}=1"
    return True


def restart_with_huge_pages() -> None:
    """Re-execute this Python process with the tunable set, unless it already is.

    Call it first thing under `if __name__ == "__main__":`, never from library code: it replaces
    the running process."""
    if enable_for_new_processes():
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, sys.orig_argv)
