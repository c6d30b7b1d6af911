import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genie.quantizers.kmeans import FittedCodebook


def _codebook(num_codes, dim, **kw):
    return FittedCodebook(num_codes, dim, rngs=nnx.Rngs(0), **kw)


def test_codes_are_chosen_by_distance_and_kept_as_they_are():
    book = _codebook(4, 2)
    codes = jnp.array([[0.0, 0.0], [1.0, 0.0], [4.0, 0.0], [0.0, 2.0]])
    book.codebook[...] = codes
    x = jnp.array([[3.0, 0.1], [0.2, 0.1], [0.1, 1.5], [1.4, -0.2]])
    q, idx, _ = book(x)
    # [3, 0.1] points the way of codes 1 and 2 alike; it is nearest to code 2.
    np.testing.assert_array_equal(idx, [2, 0, 3, 1])
    np.testing.assert_allclose(q, codes[idx], atol=1e-6)  # not moved onto the sphere


def test_kmeans_fit_finds_separated_clusters_and_is_not_a_parameter():
    centres = jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    noise = 0.01 * jax.random.normal(jax.random.key(5), (400, 3))
    z = jnp.repeat(centres, 100, axis=0) + noise
    book = _codebook(4, 3, usage_decay=0.5)
    book(z[:100], update_usage=True)  # usage piles onto few codes; fitting resets it
    error = book.fit(z, jax.random.key(6))
    found = np.array(sorted(np.asarray(book.codes()).tolist()))
    np.testing.assert_allclose(found, sorted(np.asarray(centres).tolist()), atol=0.01)
    np.testing.assert_allclose(error, np.mean(np.sum(np.square(noise), axis=-1)), rtol=0.05)
    np.testing.assert_allclose(book.usage[...], 0.25)
    assert not jax.tree.leaves(nnx.state(book, nnx.Param))  # the optimizer never moves fitted codes
    # A rarely chosen code is a rare input, not a dead one: nothing is restarted.
    assert book.restart_dead_codes(z, jax.random.key(8)) == 0
    with pytest.raises(ValueError, match="at least as many inputs"):
        _codebook(8, 3).fit(z[:5], jax.random.key(7))
