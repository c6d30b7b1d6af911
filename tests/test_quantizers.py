"""Properties every quantizer holds, whatever it is: the codes it returns are its codes, the
gradient passes straight through to what it quantises, and its usage statistics are those of
the indices it chose."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genie.quantizers import Quantizer
from genie.quantizers.fsq import FiniteScalarQuantizer
from genie.quantizers.kmeans import FittedCodebook
from genie.quantizers.vq import VectorQuantizer

QUANTIZERS = {
    "vq": lambda: VectorQuantizer(16, 4, rngs=nnx.Rngs(0)),
    "fsq": lambda: FiniteScalarQuantizer((4, 3, 3, 2)),
    "kmeans": lambda: FittedCodebook(16, 4, rngs=nnx.Rngs(0)),
}


@pytest.fixture(params=sorted(QUANTIZERS))
def quantizer(request) -> Quantizer:
    return QUANTIZERS[request.param]()


def test_outputs_are_codes_and_the_gradient_passes_straight_through(quantizer):
    z = 2.0 * jax.random.normal(jax.random.key(1), (64, quantizer.code_dim))
    w = jax.random.normal(jax.random.key(2), (quantizer.code_dim,))
    q, indices, aux = quantizer(z)
    assert indices.shape == (64,) and indices.min() >= 0 and indices.max() < quantizer.num_codes
    np.testing.assert_allclose(q, quantizer.lookup(indices), atol=1e-5)
    np.testing.assert_allclose(quantizer.codes()[indices], quantizer.lookup(indices), atol=1e-6)
    grad = jax.grad(lambda z: jnp.sum(quantizer(z)[0] @ w))(z)
    expected = jax.grad(lambda z: jnp.sum(quantizer.project(z) @ w))(z)
    np.testing.assert_allclose(grad, expected, atol=1e-5)
    assert float(jnp.abs(grad).sum()) > 0
    assert set(aux) >= {"codebook_loss", "commitment_loss", "codes_used", "perplexity"}


def test_usage_statistics_are_those_of_the_chosen_indices(quantizer):
    z = jax.random.normal(jax.random.key(3), (200, quantizer.code_dim))
    _, indices, aux = quantizer(z)
    counts = np.bincount(np.asarray(indices), minlength=quantizer.num_codes)
    p = counts[counts > 0] / counts.sum()
    np.testing.assert_allclose(aux["codes_used"], (counts > 0).mean(), rtol=1e-6)
    np.testing.assert_allclose(aux["perplexity"], np.exp(-(p * np.log(p)).sum()), rtol=1e-4)


def test_restart_moves_nothing_that_is_in_use(quantizer):
    z = jax.random.normal(jax.random.key(4), (200, quantizer.code_dim))
    before = np.asarray(quantizer.codes())
    moved = int(quantizer.restart_dead_codes(z, jax.random.key(5), enabled=False))
    assert moved == 0
    np.testing.assert_array_equal(quantizer.codes(), before)
