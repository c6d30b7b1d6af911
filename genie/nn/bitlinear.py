"""BitLinear (BitNet b1.58, Ma et al. 2024, arXiv 2402.17764): a linear layer whose weights are
-1, 0 or +1 times one scale per matrix and whose inputs are 8-bit integers times one scale per
token, trained through float weights that only the optimizer sees (straight-through gradients).

    t, gamma = absmean(W)    gamma = mean |W|,   t = clip(round(W / gamma), -1, 1)
    q, s = absmax(x)         s = 127 / max |x| over each token's features,  q = clip(round(x s), -128, 127)
    y = (q @ t) * gamma / s  (+ the bias, kept in full precision)

q @ t is a sum of integers below 2^24 in magnitude for any input width under 131,072, so float32
computes it exactly, in any order, and so does an int8 x int8 -> int32 product: training, play
and a world loaded from its packed weights all compute the same numbers. The gradients are those
of y = x W (the quantisers pass them straight through): dx = dy (t gamma)^T, dW = (q / s)^T dy.

`freeze` turns a trained layer into what ships: its kernel holds t as int8 and `scale` holds gamma,
and the product runs on integers (`frozen_matmul`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

ACTIVATION_MAX = 127  # 8-bit activations: integers in [-128, 127], the largest magnitude scaled to 127
EPS = 1e-5  # the smallest scale: an all-zero matrix or token stays zero instead of dividing by 0


def absmean(w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(t, gamma): the ternary weights (in w's dtype) and their one scale, the mean |w|."""
    gamma = jnp.maximum(jnp.mean(jnp.abs(w.reshape(w.shape[0], -1))), EPS)  # one order whatever its shape
    return jnp.clip(jnp.round(w / gamma), -1, 1), gamma


def absmax(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(q, s): the 8-bit integers (in x's dtype) of each token (last axis) and its scale, keepdims."""
    s = ACTIVATION_MAX / jnp.maximum(jnp.max(jnp.abs(x), axis=-1, keepdims=True), EPS)
    return jnp.clip(jnp.round(x * s), -ACTIVATION_MAX - 1, ACTIVATION_MAX), s


def _rescale(acc, s, gamma, extra_dims: int):
    """acc * gamma / s, s broadcast over the `extra_dims` output axes beyond the token's."""
    return acc * (gamma / s.reshape(s.shape + (1,) * (extra_dims - 1)))


@jax.custom_vjp
def bit_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    """x's last axis contracted with w's first, both quantised (see the module's docstring)."""
    return _bit_matmul_fwd(x, w)[0]


def _bit_matmul_fwd(x, w):
    # Quantised in float32 whatever x's dtype; integers up to 128 and the trits are exact in
    # bfloat16 too, and their products are summed in float32: exact in either compute dtype.
    t, gamma = absmean(w.astype(jnp.float32))
    q, s = absmax(x.astype(jnp.float32))
    q, t = q.astype(x.dtype), t.astype(w.dtype)  # the residuals keep the inputs' dtypes
    acc = jnp.tensordot(q, t.astype(x.dtype), axes=1, preferred_element_type=jnp.float32)
    return _rescale(acc, s, gamma, w.ndim - 1).astype(x.dtype), (q, s, t, gamma)


def _bit_matmul_bwd(residuals, dy):
    q, s, t, gamma = residuals
    batch, out = q.ndim - 1, t.ndim - 1
    dy = dy.astype(jnp.float32)
    dx = jnp.tensordot(dy, t * gamma, axes=(tuple(range(batch, batch + out)), tuple(range(1, 1 + out))))
    dw = jnp.tensordot(q / s, dy, axes=(tuple(range(batch)), tuple(range(batch))))
    return dx.astype(q.dtype), dw.astype(t.dtype)


bit_matmul.defvjp(_bit_matmul_fwd, _bit_matmul_bwd)


def frozen_matmul(x: jax.Array, t_int8: jax.Array, gamma: jax.Array) -> jax.Array:
    """bit_matmul with the ternary weights given: an int8 x int8 -> int32 product."""
    q, s = absmax(x.astype(jnp.float32))
    batch = q.ndim - 1
    acc = jax.lax.dot_general(q.astype(jnp.int8), t_int8, (((batch,), (0,)), ((), ())),
                              preferred_element_type=jnp.int32)
    return _rescale(acc.astype(jnp.float32), s, gamma, t_int8.ndim - 1).astype(x.dtype)


class BitLinear(nnx.Linear):
    """nnx.Linear with ternary weights and 8-bit inputs; its parameters are nnx.Linear's (a float
    checkpoint's weights start a ternary model as they are: quantisation-aware fine-tuning)."""

    @property
    def frozen(self) -> bool:
        return self.kernel[...].dtype == jnp.int8

    def contract(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        """x times `kernel`: this layer's kernel, possibly reshaped (the scale is one per matrix)."""
        if self.frozen:
            return frozen_matmul(x, kernel, self.scale[...])
        return bit_matmul(x.astype(self.dtype or x.dtype), kernel)  # quantised from the float32 weights

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.contract(x, self.kernel[...])
        return y + self.bias[...] if self.bias is not None else y

    def freeze(self) -> None:
        """Keeps the ternary weights (int8) and their scale in place of the float ones: for inference."""
        if not self.frozen:
            t, gamma = absmean(self.kernel[...])
            self.kernel = nnx.Param(t.astype(jnp.int8))
            self.scale = nnx.Param(gamma)


def freeze_ternary(module: nnx.Module) -> nnx.Module:
    """Freezes every BitLinear inside `module` (a no-op for a model without them); returns it."""
    for _, layer in nnx.iter_graph(module):
        if isinstance(layer, BitLinear):
            layer.freeze()
    return module
