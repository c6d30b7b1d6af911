import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.quantizers.vq import VectorQuantizer, l2_normalize


def _vq(num_codes=8, dim=4, **kw):
    return VectorQuantizer(num_codes, dim, rngs=nnx.Rngs(0), **kw)


def test_quantised_values_are_codes_and_gradients_pass_straight_through():
    vq = _vq()
    x = jax.random.normal(jax.random.key(1), (16, 4))
    w = jax.random.normal(jax.random.key(2), (4,))
    q, idx, _ = vq(x)
    np.testing.assert_allclose(q, vq.codes()[idx], atol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(vq(x)[0] @ w))(x)
    # The gradient of the quantised output reaches the encoder output: that of l2_normalize(x) @ w.
    expected = jax.grad(lambda x: jnp.sum(l2_normalize(x) @ w))(x)
    np.testing.assert_allclose(grad, expected, atol=1e-5)
    assert jnp.abs(grad).sum() > 0


def test_losses_and_statistics():
    vq = _vq()
    x = vq.codes()[jnp.array([0, 0, 1, 2])] * 3.0  # exactly on codes (up to scale)
    _, idx, aux = vq(x)
    np.testing.assert_array_equal(idx, [0, 0, 1, 2])
    assert aux["commitment_loss"] < 1e-10 and aux["codebook_loss"] < 1e-10
    np.testing.assert_allclose(aux["codes_used"], 3 / 8)
    p = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(aux["perplexity"], np.exp(-(p * np.log(p)).sum()), rtol=1e-5)


def test_a_deliberately_dead_code_is_revived_by_restart():
    vq = _vq(usage_decay=0.5, dead_threshold=0.01)
    data = l2_normalize(jnp.abs(jax.random.normal(jax.random.key(3), (64, 4))))  # all in the + orthant
    # Code 5 points away from every input: it is never chosen.
    vq.codebook[...] = vq.codebook[...].at[5].set(-jnp.ones(4))
    for _ in range(20):
        _, idx, _ = vq(data, update_usage=True)
        assert not (idx == 5).any()
    assert bool(vq.dead_codes()[5])
    live_K = ~np.array(vq.dead_codes())
    before = np.array(vq.codebook[...])
    assert vq.restart_dead_codes(data, jax.random.key(4)) == (~live_K).sum()
    np.testing.assert_array_equal(np.array(vq.codebook[...])[live_K], before[live_K])  # live codes stay
    # The revived code now sits on an input and wins it.
    _, idx, _ = vq(data)
    assert (idx == 5).any()
    assert not bool(vq.dead_codes()[5])
