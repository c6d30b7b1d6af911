import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genie.config import ConfigError, override
from genie.quantizers.fsq import FiniteScalarQuantizer
from tests.conftest import make_models

LEVELS = (8, 5, 3)  # even and odd level counts


def test_every_code_is_reachable_and_distinct_and_indices_decode_to_the_codes():
    fsq = FiniteScalarQuantizer(LEVELS)
    assert fsq.num_codes == 120 and fsq.code_dim == 3
    z = 4.0 * jax.random.normal(jax.random.key(0), (20000, 3))
    q, idx, aux = fsq(z)
    assert set(np.unique(idx)) == set(range(120))  # a grid of exactly prod(levels) points, all used
    np.testing.assert_allclose(fsq.lookup(idx), q, atol=1e-6)
    codes = np.asarray(fsq.codes())
    assert len({tuple(c) for c in codes.round(4)}) == 120
    assert codes.min() >= -1 and codes.max() <= 1
    for d, levels in enumerate(LEVELS):
        assert len(np.unique(codes[:, d].round(4))) == levels
    assert aux["codes_used"] == 1.0


def test_quantisation_is_rounding_with_a_straight_through_gradient():
    fsq = FiniteScalarQuantizer(LEVELS)
    z = jax.random.normal(jax.random.key(1), (64, 3))
    q = fsq(z)[0]
    bounded = fsq._bound(z)
    half_width = jnp.floor(jnp.asarray(LEVELS) / 2)
    np.testing.assert_allclose(q, jnp.round(bounded) / half_width, atol=1e-6)
    # Nearby inputs share a code; the gradient is that of the smooth bound, never zero.
    np.testing.assert_array_equal(fsq(z + 1e-4)[1], fsq(z)[1])
    w = jax.random.normal(jax.random.key(2), (3,))
    grad = jax.grad(lambda z: jnp.sum(fsq(z)[0] @ w))(z)
    expected = jax.grad(lambda z: jnp.sum((fsq._bound(z) / half_width) @ w))(z)
    np.testing.assert_allclose(grad, expected, atol=1e-6)
    assert np.all(np.abs(grad) > 0)


def _fsq_cfg(cfg, **fields):
    return dataclasses.replace(cfg, tokenizer=dataclasses.replace(
        cfg.tokenizer, quantizer=dataclasses.replace(cfg.tokenizer.quantizer, kind="fsq", **fields)))


def test_an_fsq_tokenizer_round_trips_its_tokens(tiny_cfg, tiny_batch):
    cfg = _fsq_cfg(tiny_cfg, fsq_levels=(4, 4, 4), num_codes=64, code_dim=3)
    tokenizer, _, _ = make_models(cfg)
    video = jnp.asarray(tiny_batch)
    recon, tokens, _, _ = tokenizer(video)
    assert tokens.min() >= 0 and tokens.max() < 64
    np.testing.assert_allclose(tokenizer.decode(tokens), recon, atol=1e-5)  # decode(encode(x)) = forward pass


@pytest.mark.parametrize("fields", [dict(fsq_levels=(4, 4, 4), num_codes=63, code_dim=3),
                                    dict(fsq_levels=(4, 4, 4), num_codes=64, code_dim=8),
                                    dict(fsq_levels=None, num_codes=64, code_dim=3),
                                    dict(fsq_levels=(1, 64), num_codes=64, code_dim=2)])
def test_inconsistent_fsq_settings_are_refused_with_the_fix(tiny_cfg, fields):
    with pytest.raises(ConfigError, match="fsq_levels"):
        make_models(_fsq_cfg(tiny_cfg, **fields))


def test_an_unknown_quantizer_is_refused(tiny_cfg):
    with pytest.raises(ConfigError, match="quantizer"):
        make_models(override(tiny_cfg, {"tokenizer.quantizer.kind": "pq"}))
