import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genie.config import ConfigError, override
from genie.eval.metrics import psnr_of_mse
from genie.models.patch_tokenizer import PatchTokenizer
from genie.nn.layers import patchify
from tests.conftest import fit, make_models


def _pixel_cfg(cfg):
    return override(cfg, {"tokenizer.quantizer.kind": "pixel", "tokenizer.quantizer.code_dim": 8 * 8 * 3})


def _tokenizer(cfg, quantizer, video):
    """The tiny tokenizer; a pixel one (a codebook of patches) fitted to `video`."""
    if quantizer == "vq":
        return make_models(cfg)[0]
    tokenizer = make_models(_pixel_cfg(cfg))[0]
    tokenizer.fit_codes(video, jax.random.key(0))
    return tokenizer


def test_pixel_tokenizer_is_kmeans_of_patches(tiny_cfg, tiny_batch):
    video = jnp.asarray(tiny_batch)
    tokenizer = make_models(_pixel_cfg(tiny_cfg))[0]
    assert isinstance(tokenizer, PatchTokenizer) and not jax.tree.leaves(nnx.state(tokenizer, nnx.Param))
    # A video of exactly as many distinct patches as codes is reconstructed exactly before any training.
    codes = tiny_cfg.tokenizer.quantizer.num_codes
    distinct = jax.random.uniform(jax.random.key(3), (codes, 8 * 8 * 3))
    repeats = jax.random.randint(jax.random.key(4), (2 * 8 * 16 - codes,), 0, codes)
    chosen = jnp.concatenate([jnp.arange(codes), repeats])
    patches = distinct[chosen].reshape(2, 8, 16, 8 * 8 * 3)
    made = patches.reshape(2, 8, 4, 4, 8, 8, 3).transpose(0, 1, 2, 4, 3, 5, 6).reshape(video.shape)
    np.testing.assert_array_equal(patchify(made, 8), patches)
    assert tokenizer.fit_codes(made, jax.random.key(0)) < 1e-10
    recon, tokens, _, _ = tokenizer(made)
    np.testing.assert_allclose(recon, made, atol=1e-6)
    # A token is the code nearest to its patch: equal patches get equal tokens.
    same = np.asarray(chosen)[:, None] == np.asarray(chosen)[None, :]
    flat = np.asarray(tokens).reshape(-1)
    np.testing.assert_array_equal(flat[:, None] == flat[None, :], same)
    # Real frames: the fitted codes reconstruct them at the k-means error it reports.
    mse = tokenizer.fit_codes(video, jax.random.key(0))
    np.testing.assert_allclose(jnp.mean(jnp.square(tokenizer(video)[0] - video)), mse, rtol=1e-3)


def test_pixel_codes_must_be_patches(tiny_cfg):
    with pytest.raises(ConfigError, match=r"set tokenizer.quantizer.code_dim=192"):
        PatchTokenizer(override(tiny_cfg, {"tokenizer.quantizer.kind": "pixel"}).tokenizer, tiny_cfg.data,
                       rngs=nnx.Rngs(0))


@pytest.mark.parametrize("quantizer", ["vq", "pixel"])
def test_encoder_and_decoder_are_causal_in_time(tiny_cfg, tiny_batch, quantizer):
    video = jnp.asarray(tiny_batch)
    tokenizer = _tokenizer(tiny_cfg, quantizer, video)
    t = 3
    future = jax.random.uniform(jax.random.key(0), video[:, t + 1:].shape)
    z, z2 = tokenizer(video)[3], tokenizer(video.at[:, t + 1:].set(future))[3]  # what is quantised
    np.testing.assert_allclose(z[:, :t + 1], z2[:, :t + 1], atol=1e-5)
    assert not np.allclose(z[:, t + 1:], z2[:, t + 1:], atol=1e-3)

    tokens = tokenizer.encode(video)
    other = jax.random.randint(jax.random.key(1), tokens[:, t + 1:].shape, 0, tiny_cfg.tokenizer.quantizer.num_codes)
    frames, frames2 = tokenizer.decode(tokens), tokenizer.decode(tokens.at[:, t + 1:].set(other))
    np.testing.assert_allclose(frames[:, :t + 1], frames2[:, :t + 1], atol=1e-5)
    assert not np.allclose(frames[:, t + 1:], frames2[:, t + 1:], atol=1e-3)


@nnx.jit
def _cached_decode(tokenizer, window, new, slot):
    _, cache = tokenizer.decoder_prefill(window)
    return tokenizer.decode_step(new, cache, slot)[0]


_full_decode = nnx.jit(lambda tokenizer, tokens: tokenizer.decode(tokens)[:, -1])


@pytest.mark.parametrize("quantizer", ["vq", "pixel"])
def test_cached_decoding_equals_full_decoding_past_the_window(tiny_cfg, tiny_batch, quantizer):
    tokenizer = _tokenizer(tiny_cfg, quantizer, jnp.asarray(tiny_batch))
    clip = tokenizer.encode(jnp.asarray(tiny_batch))
    tokens = jnp.concatenate([clip, clip[:, ::-1]], axis=1)  # twice the context
    slots = clip.shape[1] - 1
    for i in range(1, tokens.shape[1]):
        first = max(0, i - slots)
        past = tokens[:, first:i]
        window = jnp.concatenate([past, jnp.zeros_like(tokens[:, :slots - past.shape[1]])], axis=1)
        frame = _cached_decode(tokenizer, window, tokens[:, i], i - first)
        np.testing.assert_allclose(frame, _full_decode(tokenizer, tokens[:, first:i + 1]), atol=1e-5)


def test_overfits_one_batch(tiny_cfg, tiny_batch):
    """Measured: PSNR 9.4 dB at the start, 22.5 dB after 300 steps."""
    tokenizer, _, _ = make_models(tiny_cfg)
    video = jnp.asarray(tiny_batch)
    history = fit(tokenizer, lambda m, step: m.loss(video)[:2], steps=300)
    start, end = (float(psnr_of_mse(history[i]["mse"])) for i in (0, -1))
    print(f"tokenizer PSNR {start:.1f} -> {end:.1f} dB")
    assert end > start + 10 and end > 19
