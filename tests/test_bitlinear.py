"""BitLinear: the quantisers on known inputs, the straight-through gradients, frozen equals
training (a ternary dynamics model learning: tests/test_dynamics.py)."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.nn.bitlinear import BitLinear, absmax, absmean, bit_matmul, freeze_ternary, frozen_matmul
from genie.nn.layers import STTransformer


def test_absmean_rounds_weights_to_minus_one_zero_or_one_times_their_mean_magnitude():
    w = jnp.array([[0.5, -1.5], [0.1, 2.0]])
    t, gamma = absmean(w)
    np.testing.assert_allclose(gamma, 1.025)  # mean of 0.5, 1.5, 0.1, 2.0
    np.testing.assert_array_equal(t, [[0, -1], [0, 1]])  # 0.49, -1.46, 0.10, 1.95 rounded, 2 clipped to 1
    t, gamma = absmean(jnp.zeros((3, 3)))
    assert float(gamma) > 0 and not np.any(t)  # all zero stays zero, no division by zero


def test_absmax_maps_each_tokens_largest_magnitude_to_127():
    x = jnp.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [10.0, 0.04, -0.03]])
    q, s = absmax(x)
    np.testing.assert_allclose(s[:, 0], [63.5, 127 / 1e-5, 12.7])
    np.testing.assert_array_equal(q, [[64, -127, 32], [0, 0, 0], [127, 1, -0]])  # 63.5 rounds to even
    assert np.all(np.abs(q - x * s) <= 0.5)


def test_gradients_pass_straight_through_the_quantisers():
    x = jax.random.normal(jax.random.key(0), (2, 5, 8))
    w = jax.random.normal(jax.random.key(1), (8, 3, 4))
    dy = jax.random.normal(jax.random.key(2), (2, 5, 3, 4))
    dx, dw = jax.grad(lambda x, w: jnp.sum(bit_matmul(x, w) * dy), argnums=(0, 1))(x, w)
    t, gamma = absmean(w)
    q, s = absmax(x)
    np.testing.assert_allclose(dx, jnp.einsum("bsfh,dfh->bsd", dy, t * gamma), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dw, jnp.einsum("bsd,bsfh->dfh", q / s, dy), rtol=1e-5, atol=1e-5)
    # The forward pass is the product of the quantised operands, computed on integers.
    np.testing.assert_allclose(bit_matmul(x, w), jnp.einsum("bsd,dfh->bsfh", q / s, t * gamma), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bit_matmul(x, w), frozen_matmul(x, t.astype(jnp.int8), gamma))


def test_a_frozen_transformer_computes_what_it_trained_with():
    model = STTransformer(16, 32, 2, 2, rngs=nnx.Rngs(0), ternary=True)
    x = jax.random.normal(jax.random.key(3), (2, 3, 4, 16))
    before = model(x)
    freeze_ternary(model)
    layers = [m for _, m in nnx.iter_graph(model) if isinstance(m, BitLinear)]
    assert len(layers) == 2 * 6 and all(m.kernel[...].dtype == jnp.int8 for m in layers)
    assert all(set(np.unique(m.kernel[...])) <= {-1, 0, 1} for m in layers)
    # The same integers; a scale may differ in its last bit, a mean summed in another order.
    np.testing.assert_allclose(model(x), before, rtol=1e-5, atol=1e-5)
