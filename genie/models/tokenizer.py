"""VideoTokenizer: an ST-ViViT VQ-VAE. video -> tokens -> video, causal in time.

With `quantizer="pixel"` the codes are image patches: the encoder adds a learnt correction to
each patch before the nearest code is chosen, and the decoder adds one to the code's patch,
both starting at zero. Its codes are fitted to training patches by k-means (`fit_codes`) and
not trained further, so it reconstructs at the quality of k-means from step 0 on; training
adds what context can.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from genie.config import ConfigError, DataConfig, TokenizerConfig
from genie.nn.layers import Cache, STTransformer, num_patches, patchify, unpatchify
from genie.quantizers.fsq import FiniteScalarQuantizer, configured_fsq
from genie.quantizers.vq import VectorQuantizer


def psnr(a, b, axis=None):
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    mse = jnp.mean(jnp.square(a - b), axis=axis)
    return -10.0 * jnp.log10(jnp.maximum(mse, 1e-10))


def make_quantizer(cfg: TokenizerConfig, rngs: nnx.Rngs) -> VectorQuantizer | FiniteScalarQuantizer:
    if cfg.quantizer in ("vq", "pixel"):
        patch_dim = cfg.patch_size * cfg.patch_size * 3
        if cfg.quantizer == "pixel" and cfg.code_dim != patch_dim:
            raise ConfigError(f"tokenizer.quantizer='pixel' codes are patches of {cfg.patch_size}x{cfg.patch_size}x3 "
                              f"values: set tokenizer.code_dim={patch_dim} (it is {cfg.code_dim})")
        return VectorQuantizer(cfg.num_codes, cfg.code_dim, usage_decay=cfg.usage_decay,
                               dead_threshold=cfg.dead_code_threshold, euclidean=cfg.quantizer == "pixel",
                               learnt=cfg.quantizer == "vq", rngs=rngs)
    if cfg.quantizer != "fsq":
        raise ConfigError(f"tokenizer.quantizer={cfg.quantizer!r} is not one of ('vq', 'fsq', 'pixel')")
    return configured_fsq("tokenizer", cfg.fsq_levels, "num_codes", cfg.num_codes, cfg.code_dim)


class VideoTokenizer(nnx.Module):
    def __init__(self, cfg: TokenizerConfig, data: DataConfig, *, rngs: nnx.Rngs):
        self.cfg, self.height, self.width = cfg, data.height, data.width
        p = cfg.patch_size
        self.num_tokens = num_patches(data.height, data.width, p, "tokenizer.patch_size")  # N
        patch_dim = p * p * 3
        self.embed = nnx.Linear(patch_dim, cfg.width, rngs=rngs)
        self.enc_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (self.num_tokens, cfg.width)))
        self.encoder = STTransformer(cfg.width, cfg.ffw, cfg.heads, cfg.encoder_layers, rngs=rngs)
        self.pixel_codes = cfg.quantizer == "pixel"
        # Corrections around the patches start at zero: the pixel tokenizer starts as plain VQ.
        zero = nnx.initializers.zeros_init() if self.pixel_codes else nnx.nn.linear.default_kernel_init
        self.to_code = nnx.Linear(cfg.width, cfg.code_dim, kernel_init=zero, rngs=rngs)
        self.vq = make_quantizer(cfg, rngs)
        self.from_code = nnx.Linear(cfg.code_dim, cfg.width, rngs=rngs)
        self.dec_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (self.num_tokens, cfg.width)))
        self.decoder = STTransformer(cfg.width, cfg.ffw, cfg.heads, cfg.decoder_layers, rngs=rngs)
        self.to_pixels = nnx.Linear(cfg.width, patch_dim, kernel_init=zero, rngs=rngs)

    def _encode_latents(self, video_BTHWC):
        patches_BTNP = patchify(video_BTHWC, self.cfg.patch_size)
        z = self.to_code(self.encoder(self.embed(patches_BTNP) + self.enc_pos[...]))
        return patches_BTNP + z if self.pixel_codes else z

    def fit_codes(self, video_BTHWC: jax.Array, key: jax.Array) -> float:
        """Pixel codes: fits them by k-means to the patches of these frames (what the encoder
        gives before training); returns the mean squared error per value of their quantisation."""
        return self.vq.fit(patchify(video_BTHWC, self.cfg.patch_size), key) / self.cfg.code_dim

    def encode(self, video_BTHWC: jax.Array) -> jax.Array:
        """Float video in [0, 1] -> tokens_BTN (ints in [0, K))."""
        return self.vq(self._encode_latents(video_BTHWC))[1]

    def _decoder_input(self, codes_BTNL):
        return self.from_code(codes_BTNL) + self.dec_pos[...]

    def _to_video(self, h_BTND, codes_BTNL):
        if self.pixel_codes:
            patches = jnp.clip(codes_BTNL + self.to_pixels(h_BTND), 0.0, 1.0)
        else:
            patches = jax.nn.sigmoid(self.to_pixels(h_BTND))
        return unpatchify(patches, self.cfg.patch_size, self.height, self.width)

    def decode(self, tokens_BTN: jax.Array) -> jax.Array:
        """tokens_BTN -> video_BTHWC in [0, 1]."""
        codes = self.vq.lookup(tokens_BTN)
        return self._to_video(self.decoder(self._decoder_input(codes)), codes)

    def decoder_prefill(self, tokens_BTN: jax.Array) -> tuple[jax.Array, Cache]:
        """Decodes T frames and returns the decoder cache of their T slots."""
        codes = self.vq.lookup(tokens_BTN)
        h, cache = self.decoder.prefill(self._decoder_input(codes))
        return self._to_video(h, codes), cache

    def decode_step(self, tokens_BN: jax.Array, cache: Cache, slot) -> tuple[jax.Array, Cache]:
        """Decodes one new frame at `slot` against the cache: (frame_BHWC, its keys/values)."""
        codes = self.vq.lookup(tokens_BN)
        h, frame_kv = self.decoder.step(self._decoder_input(codes), cache, slot)
        return self._to_video(h[:, None], codes[:, None])[:, 0], frame_kv

    def __call__(self, video_BTHWC: jax.Array, update_usage: bool = False):
        """Reconstruction; returns (recon_BTHWC, tokens_BTN, vq stats, latents)."""
        z = self._encode_latents(video_BTHWC)
        q, tokens, aux = self.vq(z, update_usage=update_usage)
        recon = self._to_video(self.decoder(self._decoder_input(q)), q)
        return recon, tokens, aux, z

    def loss(self, video_BTHWC: jax.Array):
        """Reconstruction + VQ losses; metrics include PSNR. Updates code usage (training)."""
        recon, _, aux, z = self(video_BTHWC, update_usage=True)
        mse = jnp.mean(jnp.square(recon - video_BTHWC))
        loss = mse + self.cfg.codebook_weight * aux["codebook_loss"] + self.cfg.commitment_weight * aux["commitment_loss"]
        metrics = {"loss": loss, "mse": mse, "psnr": psnr(recon, video_BTHWC), **aux}
        return loss, metrics, z
