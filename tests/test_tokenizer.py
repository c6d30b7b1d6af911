import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.tokenizer import psnr
from tests.conftest import fit, make_models


def test_psnr_matches_hand_computation():
    a = jnp.zeros((4, 4))
    b = jnp.full((4, 4), 0.1)
    np.testing.assert_allclose(psnr(a, b), 20.0, rtol=1e-5)  # mse 0.01 -> 20 dB


def test_encoder_and_decoder_are_causal_in_time(tiny_cfg, tiny_batch):
    tokenizer, _, _ = make_models(tiny_cfg)
    video = jnp.asarray(tiny_batch)
    t = 3
    future = jax.random.uniform(jax.random.key(0), video[:, t + 1:].shape)
    z, z2 = tokenizer._encode_latents(video), tokenizer._encode_latents(video.at[:, t + 1:].set(future))
    np.testing.assert_allclose(z[:, :t + 1], z2[:, :t + 1], atol=1e-5)
    assert not np.allclose(z[:, t + 1:], z2[:, t + 1:], atol=1e-3)

    tokens = tokenizer.encode(video)
    other = jax.random.randint(jax.random.key(1), tokens[:, t + 1:].shape, 0, tiny_cfg.tokenizer.num_codes)
    frames, frames2 = tokenizer.decode(tokens), tokenizer.decode(tokens.at[:, t + 1:].set(other))
    np.testing.assert_allclose(frames[:, :t + 1], frames2[:, :t + 1], atol=1e-5)
    assert not np.allclose(frames[:, t + 1:], frames2[:, t + 1:], atol=1e-3)


@nnx.jit
def _cached_decode(tokenizer, window, new, slot):
    _, cache = tokenizer.decoder_prefill(window)
    return tokenizer.decode_step(new, cache, slot)[0]


_full_decode = nnx.jit(lambda tokenizer, tokens: tokenizer.decode(tokens)[:, -1])


def test_cached_decoding_equals_full_decoding_past_the_window(tiny_cfg, tiny_batch):
    tokenizer, _, _ = make_models(tiny_cfg)
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
    start, end = history[0]["psnr"], history[-1]["psnr"]
    print(f"tokenizer PSNR {start:.1f} -> {end:.1f} dB")
    assert end > start + 10 and end > 19
