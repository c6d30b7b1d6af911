"""Latent action model: discovers A discrete actions from pixels alone.

Encoder: a causal ST transformer over frames 0..T-1 with one extra "action" token per frame;
the action token's output at frame t+1 (which has seen frames 0..t+1) is quantised to a_t, the
transition t -> t+1. Decoder: a causal ST transformer over frames 0..T-2 with the embedding of
a_t added to frame t; its output at frame t reconstructs frame t+1. So frame t+1 reaches the
decoder only through a_t: the bottleneck that makes actions mean something.

With `warp`, the decoder's output is a flow field that moves frame t's pixels plus a residual,
both zero at the start (so training starts from copying frame t). In a platformer whose camera
follows the player an action mostly scrolls the scene by a few pixels, which a decoder drawing
frame t+1 cannot exploit: given the true action in place of a_t it gained 0.05 dB on held-out
clips (as frame t plus a residual), where the warping one gained 0.7 dB (README, Results).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from genie.config import EnvConfig, LAMConfig
from genie.layers import STTransformer, num_patches, patchify, unpatchify
from genie.motion import match_scores, num_shifts
from genie.tokenizer import psnr
from genie.vq import VectorQuantizer
from genie.warp import warp


class LatentActionModel(nnx.Module):
    def __init__(self, cfg: LAMConfig, env: EnvConfig, *, rngs: nnx.Rngs):
        self.cfg, self.height, self.width = cfg, env.height, env.width
        p = cfg.patch_size
        n = num_patches(env.height, env.width, p, "lam.patch_size")
        patch_dim = p * p * 3
        self.embed = nnx.Linear(patch_dim, cfg.width, rngs=rngs)
        self.enc_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (n + 1, cfg.width)))
        self.action_token = nnx.Param(0.02 * jax.random.normal(rngs.params(), (cfg.width,)))
        if cfg.motion_radius:
            self.embed_motion = nnx.Linear(num_shifts(cfg.motion_radius), cfg.width, rngs=rngs)
        self.encoder = STTransformer(cfg.width, cfg.ffw, cfg.heads, cfg.encoder_layers, rngs=rngs)
        self.to_action = nnx.Linear(cfg.width, cfg.code_dim, rngs=rngs)
        self.vq = VectorQuantizer(cfg.num_actions, cfg.code_dim, usage_decay=cfg.usage_decay,
                                  dead_threshold=cfg.dead_code_threshold, rngs=rngs)
        self.dec_embed = nnx.Linear(patch_dim, cfg.width, rngs=rngs)
        self.dec_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (n, cfg.width)))
        self.action_embed = nnx.Linear(cfg.code_dim, cfg.width, rngs=rngs)
        self.decoder = STTransformer(cfg.width, cfg.ffw, cfg.heads, cfg.decoder_layers, rngs=rngs)
        zeros = nnx.initializers.zeros_init()
        self.to_pixels = nnx.Linear(cfg.width, patch_dim, rngs=rngs, **({"kernel_init": zeros} if cfg.warp else {}))
        if cfg.warp:
            self.to_flow = nnx.Linear(cfg.width, 2, kernel_init=zeros, rngs=rngs)

    def encode(self, video_BTHWC):
        """Continuous actions for the T-1 transitions: [B, T-1, L]."""
        x = self.embed(patchify(video_BTHWC, self.cfg.patch_size))
        if self.cfg.motion_radius:
            x = x + self.embed_motion(match_scores(video_BTHWC, self.cfg.motion_radius, self.cfg.patch_size))
        b, t = x.shape[:2]
        token = jnp.broadcast_to(self.action_token[...], (b, t, 1, x.shape[-1]))
        h = self.encoder(jnp.concatenate([token, x], axis=2) + self.enc_pos[...])
        return self.to_action(h[:, 1:, 0])  # the action token of frames 1..T-1

    def infer_actions(self, video_BTHWC: jax.Array) -> jax.Array:
        """Latent actions actions_BTm1 (ints in [0, A)): a_t explains frame t -> t+1."""
        return self.vq(self.encode(video_BTHWC))[1]

    def decode(self, video_BTHWC, action_codes_BTm1L):
        """Predicts frames 1..T-1 from frames 0..T-2 and the (quantised) action codes."""
        x = self.dec_embed(patchify(video_BTHWC[:, :-1], self.cfg.patch_size)) + self.dec_pos[...]
        x = x + self.action_embed(action_codes_BTm1L)[:, :, None, :]
        h_BTND = self.decoder(x)
        out_BTHWC = unpatchify(self.to_pixels(h_BTND), self.cfg.patch_size, self.height, self.width)
        if not self.cfg.warp:
            return jax.nn.sigmoid(out_BTHWC)
        b, t = h_BTND.shape[:2]
        rows, cols = self.height // self.cfg.patch_size, self.width // self.cfg.patch_size
        flow_BTrc2 = self.cfg.max_flow * jnp.tanh(self.to_flow(h_BTND)).reshape(b, t, rows, cols, 2)
        flow_BTHW2 = jax.image.resize(flow_BTrc2, (b, t, self.height, self.width, 2), "linear")
        return warp(video_BTHWC[:, :-1], flow_BTHW2) + out_BTHWC

    def __call__(self, video_BTHWC, update_usage: bool = False):
        """Returns (predicted frames 1..T-1, actions_BTm1, vq stats, continuous actions)."""
        z = self.encode(video_BTHWC)
        q, actions, aux = self.vq(z, update_usage=update_usage)
        return self.decode(video_BTHWC, q), actions, aux, z

    def loss(self, video_BTHWC):
        pred, actions, aux, z = self(video_BTHWC, update_usage=True)
        target = video_BTHWC[:, 1:]
        mse = jnp.mean(jnp.square(pred - target))
        loss = mse + self.cfg.codebook_weight * aux["codebook_loss"] + self.cfg.commitment_weight * aux["commitment_loss"]
        metrics = {"loss": loss, "mse": mse, "psnr": psnr(pred, target), **aux}
        return loss, metrics, z
