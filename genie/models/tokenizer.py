"""VideoTokenizer: an ST-ViViT VQ-VAE. video -> tokens -> video, causal in time."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from genie.config import DataConfig, TokenizerConfig
from genie.nn.compute import Compute
from genie.nn.layers import Cache, STTransformer, num_patches, patchify, unpatchify
from genie.quantizers.build import quantizer_from_config


class VideoTokenizer(nnx.Module):
    def __init__(self, cfg: TokenizerConfig, data: DataConfig, *, rngs: nnx.Rngs, compute: Compute = Compute()):
        self.cfg, self.height, self.width = cfg, data.height, data.width
        p = cfg.patch_size
        self.num_tokens = num_patches(data.height, data.width, p, "tokenizer.patch_size")  # N
        patch_dim, t, q = p * p * 3, cfg.transformer, cfg.quantizer
        self.embed = nnx.Linear(patch_dim, t.width, rngs=rngs)
        self.enc_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (self.num_tokens, t.width)))
        self.encoder = STTransformer(t.width, t.ffw, t.heads, cfg.encoder_layers, rngs=rngs, compute=compute,
                                     ternary=t.ternary)
        self.to_code = nnx.Linear(t.width, q.code_dim, rngs=rngs)
        self.vq = quantizer_from_config("tokenizer", q, rngs)
        self.from_code = nnx.Linear(q.code_dim, t.width, rngs=rngs)
        self.dec_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (self.num_tokens, t.width)))
        self.decoder = STTransformer(t.width, t.ffw, t.heads, cfg.decoder_layers, rngs=rngs, compute=compute,
                                     ternary=t.ternary)
        self.to_pixels = nnx.Linear(t.width, patch_dim, rngs=rngs)

    def _encode_latents(self, video_BTHWC):
        patches_BTNP = patchify(video_BTHWC, self.cfg.patch_size)
        return self.to_code(self.encoder(self.embed(patches_BTNP) + self.enc_pos[...]))

    def encode(self, video_BTHWC: jax.Array) -> jax.Array:
        """Float video in [0, 1] -> tokens_BTN (ints in [0, K))."""
        return self.vq(self._encode_latents(video_BTHWC))[1]

    def _decoder_input(self, codes_BTNL):
        return self.from_code(codes_BTNL) + self.dec_pos[...]

    def _to_video(self, h_BTND):
        return unpatchify(jax.nn.sigmoid(self.to_pixels(h_BTND)), self.cfg.patch_size, self.height, self.width)

    def decode(self, tokens_BTN: jax.Array) -> jax.Array:
        """tokens_BTN -> video_BTHWC in [0, 1]."""
        codes = self.vq.lookup(tokens_BTN)
        return self._to_video(self.decoder(self._decoder_input(codes)))

    def decoder_prefill(self, tokens_BTN: jax.Array) -> tuple[jax.Array, Cache]:
        """Decodes T frames and returns the decoder cache of their T slots."""
        codes = self.vq.lookup(tokens_BTN)
        h, cache = self.decoder.prefill(self._decoder_input(codes))
        return self._to_video(h), cache

    def decode_step(self, tokens_BN: jax.Array, cache: Cache, slot) -> tuple[jax.Array, Cache]:
        """Decodes one new frame at `slot` against the cache: (frame_BHWC, its keys/values)."""
        codes = self.vq.lookup(tokens_BN)
        h, frame_kv = self.decoder.step(self._decoder_input(codes), cache, slot)
        return self._to_video(h[:, None])[:, 0], frame_kv

    def __call__(self, video_BTHWC: jax.Array, update_usage: bool = False):
        """Reconstruction; returns (recon_BTHWC, tokens_BTN, vq stats, latents)."""
        z = self._encode_latents(video_BTHWC)
        q, tokens, aux = self.vq(z, update_usage=update_usage)
        recon = self._to_video(self.decoder(self._decoder_input(q)))
        return recon, tokens, aux, z

    def loss(self, video_BTHWC: jax.Array):
        """Reconstruction + quantizer losses and their metrics. Updates code usage (training)."""
        recon, _, aux, z = self(video_BTHWC, update_usage=True)
        mse = jnp.mean(jnp.square(recon - video_BTHWC))
        q = self.cfg.quantizer
        loss = mse + q.codebook_weight * aux["codebook_loss"] + q.commitment_weight * aux["commitment_loss"]
        metrics = {"loss": loss, "mse": mse, **aux}
        return loss, metrics, z
