"""PatchTokenizer: a tokenizer that is a codebook of image patches (`tokenizer.quantizer.kind="pixel"`).

A frame's tokens are the k-means codes nearest to its patches and decoding draws the codes'
patches, so it reconstructs at the quality of k-means. Its codes are fitted to training
patches before the tokenizer stage's step 0 and nothing else in it is trained. It has the
interface of `VideoTokenizer`, but each frame is coded on its own: it is causal in time by
construction and its decoder needs no cache of past frames.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from genie.config import ConfigError, DataConfig, TokenizerConfig
from genie.nn.layers import Cache, num_patches, patchify, unpatchify
from genie.quantizers.kmeans import FittedCodebook


class PatchTokenizer(nnx.Module):
    def __init__(self, cfg: TokenizerConfig, data: DataConfig, *, rngs: nnx.Rngs):
        self.cfg, self.height, self.width = cfg, data.height, data.width
        p = cfg.patch_size
        self.num_tokens = num_patches(data.height, data.width, p, "tokenizer.patch_size")  # N
        q = cfg.quantizer
        if q.code_dim != p * p * 3:
            raise ConfigError(f"tokenizer.quantizer.kind='pixel' codes are patches of {p}x{p}x3 values: set "
                              f"tokenizer.quantizer.code_dim={p * p * 3} (it is {q.code_dim})")
        self.vq = FittedCodebook(q.num_codes, q.code_dim, usage_decay=q.usage_decay, rngs=rngs)

    def fit_codes(self, video_BTHWC: jax.Array, key: jax.Array) -> float:
        """Fits the codes by k-means to the patches of these frames; returns the mean squared
        error per value of their quantisation."""
        return self.vq.fit(patchify(video_BTHWC, self.cfg.patch_size), key) / self.cfg.quantizer.code_dim

    def encode(self, video_BTHWC: jax.Array) -> jax.Array:
        """Float video in [0, 1] -> tokens_BTN (ints in [0, K))."""
        return self.vq(patchify(video_BTHWC, self.cfg.patch_size))[1]

    def _to_video(self, codes_BTNL):
        return unpatchify(jnp.clip(codes_BTNL, 0.0, 1.0), self.cfg.patch_size, self.height, self.width)

    def decode(self, tokens_BTN: jax.Array) -> jax.Array:
        """tokens_BTN -> video_BTHWC in [0, 1]."""
        return self._to_video(self.vq.lookup(tokens_BTN))

    def decoder_prefill(self, tokens_BTN: jax.Array) -> tuple[jax.Array, Cache]:
        """Decodes T frames; the cache is empty (no frame depends on another)."""
        return self.decode(tokens_BTN), []

    def decode_step(self, tokens_BN: jax.Array, cache: Cache, slot) -> tuple[jax.Array, Cache]:
        """Decodes one new frame: (frame_BHWC, its empty keys/values)."""
        return self.decode(tokens_BN[:, None])[:, 0], []

    def __call__(self, video_BTHWC: jax.Array, update_usage: bool = False):
        """Reconstruction; returns (recon_BTHWC, tokens_BTN, quantizer stats, patches)."""
        patches_BTNP = patchify(video_BTHWC, self.cfg.patch_size)
        codes, tokens, aux = self.vq(patches_BTNP, update_usage=update_usage)
        return self._to_video(codes), tokens, aux, patches_BTNP
