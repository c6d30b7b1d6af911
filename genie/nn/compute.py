"""How the transformers compute on the backend at hand: their compute dtype, attention kernel
and rematerialisation, resolved from `ComputeConfig`'s "auto" choices."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from genie.config import ComputeConfig, ConfigError


@dataclasses.dataclass(frozen=True)
class Compute:
    dtype: jnp.dtype = jnp.float32  # what the blocks' products run in; parameters stay float32
    attention: str = "xla"  # the implementation jax.nn.dot_product_attention is asked for
    remat: bool = False


def resolve(cfg: ComputeConfig, backend: str | None = None) -> Compute:
    """The Compute of `cfg` on `backend` (default: JAX's); a choice the backend cannot run is refused."""
    backend = backend or jax.default_backend()
    accelerator = backend in ("gpu", "cuda", "rocm", "tpu")
    precision = cfg.precision if cfg.precision != "auto" else ("bfloat16" if accelerator else "float32")
    # cuDNN's fused attention runs on NVIDIA GPUs, in 16-bit floats only.
    cudnn_runs = backend in ("gpu", "cuda") and precision == "bfloat16"
    attention = cfg.attention if cfg.attention != "auto" else ("cudnn" if cudnn_runs else "xla")
    if attention == "cudnn" and not cudnn_runs:
        raise ConfigError(f"compute.attention='cudnn' runs on an NVIDIA GPU in bfloat16; here the backend is "
                          f"{backend} and compute.precision resolves to {precision}. Use compute.attention=auto")
    return Compute(jnp.dtype(precision), attention, cfg.remat)
