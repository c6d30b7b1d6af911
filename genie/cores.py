"""Makes JAX see a CPU's cores as devices, so that play can split its work between them.

XLA runs the small matrix products of one generated frame (a few dozen tokens) on a single
core; split over devices, each core runs its share of the heads and feed-forward units
(genie/play/session.py). The device count is read once, when JAX starts its CPU backend, so this must
run before the first JAX computation; an XLA_FLAGS that already sets it is left alone.
"""

from __future__ import annotations

import argparse
import os

FLAG = "--xla_force_host_platform_device_count"


def split_cpu(devices: int | None = None) -> None:
    """`devices` CPU devices (None: two where there are two cores; more than two was not
    measured to help)."""
    devices = min(2, os.cpu_count() or 1) if devices is None else devices
    if devices < 1:
        raise ValueError(f"devices must be at least 1, got {devices}")
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FLAG}={devices}".strip()


def device_count(text: str) -> int:
    """argparse type of a --devices option: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"devices must be a whole number of at least 1, not {text!r}")
    return int(text)
