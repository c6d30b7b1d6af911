"""Spatiotemporal transformer: spatial attention within a frame, causal temporal attention
across frames (RoPE on the time axis), one feed-forward; and patchify/unpatchify.

Temporal attention can run one new frame against cached keys/values of past frames
(`STTransformer.step`), which `STTransformer.prefill` fills from a window of past frames. A
cache holds the keys/values of `C` frame slots, each frame at its slot index as its RoPE
position, so running the new frame at slot n against a cache of slots 0..n-1 computes exactly
what a full causal pass over those n+1 frames computes for its last frame.

`Compute` (genie/nn/compute.py) sets the blocks' compute dtype, their attention kernel and
whether training recomputes their activations; the transformer takes and returns float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import PartitionSpec as P

from genie.nn.bitlinear import BitLinear
from genie.nn.compute import Compute

Cache = list  # per layer: (keys_BNHCd, values_BNHCd) of the temporal attention

MODEL = "model"  # the mesh axis that splits attention heads and feed-forward units


def split_over_model(x: jax.Array, axis: int) -> jax.Array:
    """Splits `axis` of x over the devices of the current mesh's model axis (tensor
    parallelism: each device runs its share of the heads and feed-forward units, and XLA adds
    one all-reduce after each attention and feed-forward); no-op outside such a mesh."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or MODEL not in mesh.axis_names:
        return x
    spec = [None] * x.ndim
    spec[axis] = MODEL
    return jax.lax.with_sharding_constraint(x, P(*spec))


def num_patches(height: int, width: int, patch: int, field: str) -> int:
    """N, the patches of a frame; a patch size that does not divide the frame is refused."""
    if height % patch or width % patch:
        raise ValueError(f"{field}={patch} does not divide frames of {height}x{width}")
    return (height // patch) * (width // patch)


def patchify(video_BTHWC: jax.Array, patch: int) -> jax.Array:
    """[B,T,H,W,C] -> [B,T,N,P] with N = (H/p)(W/p) patches of P = p*p*C values, row-major."""
    b, t, h, w, c = video_BTHWC.shape
    if h % patch or w % patch:
        raise ValueError(f"frames of {h}x{w} do not split into patches of {patch}")
    x = video_BTHWC.reshape(b, t, h // patch, patch, w // patch, patch, c)
    return x.transpose(0, 1, 2, 4, 3, 5, 6).reshape(b, t, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(patches_BTNP: jax.Array, patch: int, height: int, width: int) -> jax.Array:
    b, t = patches_BTNP.shape[:2]
    c = patches_BTNP.shape[-1] // (patch * patch)
    x = patches_BTNP.reshape(b, t, height // patch, width // patch, patch, patch, c)
    return x.transpose(0, 1, 2, 4, 3, 5, 6).reshape(b, t, height, width, c)


def rope(x_BSHd: jax.Array, positions_S: jax.Array) -> jax.Array:
    """Rotary position embedding over the sequence axis (axis 1)."""
    half = x_BSHd.shape[-1] // 2
    freq = 1.0 / (10_000 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angle = positions_S.astype(jnp.float32)[:, None] * freq[None, :]
    cos, sin = jnp.cos(angle)[None, :, None, :], jnp.sin(angle)[None, :, None, :]
    x1, x2 = x_BSHd[..., :half], x_BSHd[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).astype(x_BSHd.dtype)


class Attention(nnx.Module):
    """Multi-head self-attention with QK-norm; the caller decides the sequence axis and whether it
    is causal."""

    def __init__(self, width: int, heads: int, *, rngs: nnx.Rngs, dtype=jnp.float32, ternary: bool = False,
                 implementation: str = "xla"):
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads, self.head_dim, self.implementation = heads, width // heads, implementation
        linear = BitLinear if ternary else nnx.Linear
        self.qkv = linear(width, 3 * width, use_bias=False, dtype=dtype, rngs=rngs)
        self.out = linear(width, width, dtype=dtype, rngs=rngs)
        # QK-norm keeps attention logits bounded, which stabilises training at any width.
        self.q_norm = nnx.RMSNorm(self.head_dim, dtype=dtype, rngs=rngs)
        self.k_norm = nnx.RMSNorm(self.head_dim, dtype=dtype, rngs=rngs)

    def project(self, x_BSD):
        # The kernel's columns are [q | k | v], each head-major: seen as [D, 3, H, d], its head
        # axis can be split over devices, which a split of the flat columns could not do.
        kernel_D3Hd = split_over_model(self.qkv.kernel[...].reshape(x_BSD.shape[-1], 3, self.heads, self.head_dim), 2)
        if isinstance(self.qkv, BitLinear):
            qkv_BS3Hd = self.qkv.contract(x_BSD, kernel_D3Hd)
        else:
            x_BSD, kernel_D3Hd = self.qkv.promote_dtype((x_BSD, kernel_D3Hd), dtype=self.qkv.dtype)
            qkv_BS3Hd = jnp.einsum("bsd,dthe->bsthe", x_BSD, kernel_D3Hd)
        q, k, v = (qkv_BS3Hd[:, :, i] for i in range(3))
        return self.q_norm(q), self.k_norm(k), v

    def attend(self, q_BSHd, k_BKHd, v_BKHd, causal: bool = False):
        y = jax.nn.dot_product_attention(q_BSHd, k_BKHd, v_BKHd, is_causal=causal,
                                         implementation=self.implementation)
        b, s = y.shape[:2]
        return self.out(y.reshape(b, s, self.heads * self.head_dim))

    def attend_cached(self, q_BNHd, k_BNHd, v_BNHd, cache_kv, slot):
        """One new frame's queries against cached slots < slot and itself (see step_attention)."""
        if self.implementation == "xla":
            y = step_attention(q_BNHd, k_BNHd, v_BNHd, *cache_kv, slot)
        else:
            y = fused_step_attention(q_BNHd, k_BNHd, v_BNHd, *cache_kv, slot, self.implementation)
        b, n = y.shape[:2]
        return self.out(y.reshape(b, n, self.heads * self.head_dim))


def step_attention(q_BNHd, k_BNHd, v_BNHd, cache_k_BNHCd, cache_v_BNHCd, slot):
    """One query frame against cached slots < slot and itself: [B, N, H, d]. A hand-written
    product over the cache as it lies (heads before slots), with float32 logits and softmax."""
    scale = q_BNHd.shape[-1] ** -0.5
    visible_C = jnp.arange(cache_k_BNHCd.shape[3]) < slot
    past = jnp.einsum("bnhd,bnhcd->bnhc", q_BNHd, cache_k_BNHCd, preferred_element_type=jnp.float32) * scale
    past = jnp.where(visible_C, past, -jnp.inf)
    # The new frame attends to itself too.
    itself = jnp.sum(q_BNHd.astype(jnp.float32) * k_BNHd, axis=-1, keepdims=True) * scale
    weights = jax.nn.softmax(jnp.concatenate([past, itself], axis=-1), axis=-1)
    y = (jnp.einsum("bnhc,bnhcd->bnhd", weights[..., :-1].astype(cache_v_BNHCd.dtype), cache_v_BNHCd,
                    preferred_element_type=jnp.float32) + weights[..., -1:] * v_BNHd)
    return y.astype(q_BNHd.dtype)


def fused_step_attention(q_BNHd, k_BNHd, v_BNHd, cache_k_BNHCd, cache_v_BNHCd, slot, implementation: str):
    """`step_attention` through jax.nn.dot_product_attention (a fused kernel such as cuDNN's):
    each patch's keys are its C cached slots and the new frame, the slots >= slot masked."""
    b, n, h, c, d = cache_k_BNHCd.shape
    keys = lambda cache, new: jnp.concatenate(
        [cache.transpose(0, 1, 3, 2, 4), new[:, :, None]], axis=2).reshape(b * n, c + 1, h, d)
    visible = jnp.concatenate([jnp.arange(c) < slot, jnp.ones((1,), bool)])
    y = jax.nn.dot_product_attention(q_BNHd.reshape(b * n, 1, h, d), keys(cache_k_BNHCd, k_BNHd),
                                     keys(cache_v_BNHCd, v_BNHd), mask=visible[None, None, None],
                                     implementation=implementation)
    return y.reshape(b, n, h, d)


class STBlock(nnx.Module):
    """Pre-norm: spatial attention, causal temporal attention, feed-forward. `ternary`: their
    linear layers are BitLinear (genie/nn/bitlinear.py); the norms stay in full precision."""

    def __init__(self, width: int, ffw: int, heads: int, *, rngs: nnx.Rngs, dtype=jnp.float32, ternary: bool = False,
                 attention: str = "xla"):
        self.spatial_norm = nnx.RMSNorm(width, dtype=dtype, rngs=rngs)
        self.spatial = Attention(width, heads, rngs=rngs, dtype=dtype, ternary=ternary, implementation=attention)
        self.temporal_norm = nnx.RMSNorm(width, dtype=dtype, rngs=rngs)
        self.temporal = Attention(width, heads, rngs=rngs, dtype=dtype, ternary=ternary, implementation=attention)
        self.ffw_norm = nnx.RMSNorm(width, dtype=dtype, rngs=rngs)
        linear = BitLinear if ternary else nnx.Linear
        self.ffw_in = linear(width, ffw, dtype=dtype, rngs=rngs)
        self.ffw_out = linear(ffw, width, dtype=dtype, rngs=rngs)

    def _spatial(self, x_BTND):
        b, t, n, d = x_BTND.shape
        h = self.spatial_norm(x_BTND).reshape(b * t, n, d)
        q, k, v = self.spatial.project(h)
        return x_BTND + self.spatial.attend(q, k, v).reshape(b, t, n, d)

    def _ffw(self, x):
        return x + self.ffw_out(split_over_model(jax.nn.gelu(self.ffw_in(self.ffw_norm(x))), -1))

    def _temporal_qkv(self, x_BTND, positions_T):
        b, t, n, d = x_BTND.shape
        h = self.temporal_norm(x_BTND).transpose(0, 2, 1, 3).reshape(b * n, t, d)
        q, k, v = self.temporal.project(h)
        return rope(q, positions_T), rope(k, positions_T), v

    def __call__(self, x_BTND):
        """Full causal pass; also returns this block's temporal keys/values [B,N,H,T,d]."""
        b, t, n, d = x_BTND.shape
        x_BTND = self._spatial(x_BTND)
        q, k, v = self._temporal_qkv(x_BTND, jnp.arange(t))
        y = self.temporal.attend(q, k, v, causal=True)
        x_BTND = x_BTND + y.reshape(b, n, t, d).transpose(0, 2, 1, 3)
        # Heads before slots: the layout in which a step's attention reads the cache without
        # transposing it (a copy of the whole cache at each of the S MaskGIT steps).
        kv = tuple(a.reshape(b, n, t, *a.shape[2:]).transpose(0, 1, 3, 2, 4) for a in (k, v))
        return self._ffw(x_BTND), kv

    def step(self, x_BND, cache_kv, slot):
        """One new frame at slot `slot` (traced int) against cached slots < slot."""
        b, n, _ = x_BND.shape
        x_B1ND = self._spatial(x_BND[:, None])
        q, k, v = (a.reshape(b, n, *a.shape[2:]) for a in self._temporal_qkv(x_B1ND, jnp.full((1,), slot)))
        y = self.temporal.attend_cached(q, k, v, cache_kv, slot)
        return self._ffw(x_B1ND + y[:, None])[:, 0], (k[:, :, :, None], v[:, :, :, None])  # [B, N, H, 1, d]


class STTransformer(nnx.Module):
    """A stack of ST blocks with a final norm; causal in time. Takes and returns float32; its
    blocks compute in `compute.dtype` (their caches too)."""

    def __init__(self, width: int, ffw: int, heads: int, layers: int, *, rngs: nnx.Rngs,
                 compute: Compute = Compute(), ternary: bool = False):
        self.dtype, self.remat = compute.dtype, compute.remat
        self.blocks = nnx.List([STBlock(width, ffw, heads, rngs=rngs, dtype=compute.dtype, ternary=ternary,
                                        attention=compute.attention) for _ in range(layers)])
        self.norm = nnx.RMSNorm(width, rngs=rngs)

    def __call__(self, x_BTND):
        return self.prefill(x_BTND)[0]

    def prefill(self, x_BTND) -> tuple[jax.Array, Cache]:
        """Full causal pass over T frames; returns the output and a cache of T slots."""
        # Under remat a block's activations are recomputed in the backward pass, not kept.
        run = nnx.remat(lambda block, x: block(x)) if self.remat else (lambda block, x: block(x))
        x_BTND, cache = x_BTND.astype(self.dtype), []
        for block in self.blocks:
            x_BTND, kv = run(block, x_BTND)
            cache.append(kv)
        return self.norm(x_BTND.astype(jnp.float32)), cache

    def step(self, x_BND, cache: Cache, slot) -> tuple[jax.Array, Cache]:
        """Runs one new frame at `slot` against the cache; returns its output and its own
        keys/values (one slot per layer), which `write_slot` can add to the cache."""
        x_BND, new = x_BND.astype(self.dtype), []
        for block, kv in zip(self.blocks, cache):
            x_BND, frame_kv = block.step(x_BND, kv, slot)
            new.append(frame_kv)
        return self.norm(x_BND.astype(jnp.float32)), new


def write_slot(cache: Cache, frame_kv: Cache, slot) -> Cache:
    """The cache with one frame's keys/values written at `slot` (traced int)."""
    return [tuple(jax.lax.dynamic_update_slice_in_dim(c, f, slot, axis=3) for c, f in zip(ckv, fkv))
            for ckv, fkv in zip(cache, frame_kv)]
