"""Latent action model: discovers A discrete actions from pixels alone.

Encoder: a causal ST transformer over frames 0..T-1 with one extra "action" token per frame;
the action token's output at frame t+1 (which has seen frames 0..t+1) is quantised to a_t, the
transition t -> t+1. Decoder: a causal ST transformer over frames 0..T-2 with the embedding of
a_t added to frame t; its output at frame t reconstructs frame t+1. So frame t+1 reaches the
decoder only through a_t: the bottleneck that makes actions mean something.

With `shift_radius`, each decoder patch is a softmax mixture of frame t moved by every whole-pixel
shift up to that radius, plus a residual: the weights get a gradient from how well each shift
fits, where a flow field that moves pixels gets one only at edges within a pixel of their place
(docs/record.md: such a warping decoder was tried first). Without
`decoder_history` the decoder reads frame t alone: had it the frames before, it would predict the
scroll from them and a_t would carry only what they cannot tell (docs/record.md).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from genie.config import DataConfig, LAMConfig
from genie.nn.compute import Compute
from genie.nn.layers import STTransformer, num_patches, patchify, unpatchify
from genie.nn.motion import match_scores, mix_shifts, num_shifts, shifts
from genie.quantizers.build import quantizer_from_config


class LatentActionModel(nnx.Module):
    def __init__(self, cfg: LAMConfig, data: DataConfig, *, rngs: nnx.Rngs, compute: Compute = Compute()):
        self.cfg, self.height, self.width = cfg, data.height, data.width
        p = cfg.patch_size
        n = num_patches(data.height, data.width, p, "lam.patch_size")
        patch_dim, t, q = p * p * 3, cfg.transformer, cfg.quantizer
        self.embed = nnx.Linear(patch_dim, t.width, rngs=rngs)
        self.enc_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (n + 1, t.width)))
        self.action_token = nnx.Param(0.02 * jax.random.normal(rngs.params(), (t.width,)))
        if cfg.motion_radius:
            self.embed_motion = nnx.Linear(num_shifts(cfg.motion_radius), t.width, rngs=rngs)
        self.encoder = STTransformer(t.width, t.ffw, t.heads, cfg.encoder_layers, rngs=rngs, compute=compute,
                                     ternary=t.ternary)
        self.to_action = nnx.Linear(t.width, q.code_dim, rngs=rngs)
        self.vq = quantizer_from_config("lam", q, rngs)
        if q.kind == "fsq":
            # Standardised over the batch (running statistics at inference) before FSQ rounds
            # them: otherwise the motion every clip shares moves all codes to one corner of the grid.
            self.standardize = nnx.BatchNorm(q.code_dim, use_bias=False, use_scale=False, rngs=rngs)
        self.dec_patch = dp = p if cfg.decoder_patch_size is None else cfg.decoder_patch_size
        m = num_patches(data.height, data.width, dp, "lam.decoder_patch_size")
        self.dec_embed = nnx.Linear(dp * dp * 3, t.width, rngs=rngs)
        self.dec_pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (m, t.width)))
        self.action_embed = nnx.Linear(q.code_dim, t.width, rngs=rngs)
        self.decoder = STTransformer(t.width, t.ffw, t.heads, cfg.decoder_layers, rngs=rngs, compute=compute,
                                     ternary=t.ternary)
        zeros = nnx.initializers.zeros_init()
        residual = cfg.shift_radius
        self.to_pixels = nnx.Linear(t.width, dp * dp * 3, rngs=rngs, **({"kernel_init": zeros} if residual else {}))
        if cfg.shift_radius:
            still = shifts(cfg.shift_radius).index((0, 0))
            # Starts as (nearly) frame t unmoved: e^4 times the weight of any other shift.
            self.to_shift = nnx.Linear(t.width, num_shifts(cfg.shift_radius), kernel_init=zeros, rngs=rngs,
                                       bias_init=lambda key, shape, dtype: jnp.zeros(shape, dtype).at[still].set(4.0))

    def encode(self, video_BTHWC):
        """Continuous actions for the T-1 transitions: [B, T-1, L]."""
        x = self.embed(patchify(video_BTHWC, self.cfg.patch_size))
        if self.cfg.motion_radius:
            x = x + self.embed_motion(match_scores(video_BTHWC, self.cfg.motion_radius, self.cfg.patch_size))
        b, t = x.shape[:2]
        token = jnp.broadcast_to(self.action_token[...], (b, t, 1, x.shape[-1]))
        h = self.encoder(jnp.concatenate([token, x], axis=2) + self.enc_pos[...])
        return self.to_action(h[:, 1:, 0])  # the action token of frames 1..T-1

    def quantize(self, z_BTm1L, train: bool = False):
        """(straight-through codes, actions, stats) of continuous actions; `train` standardises
        with the batch's statistics and updates the running ones (FSQ) and VQ code usage."""
        if self.cfg.quantizer.kind == "fsq":
            z_BTm1L = self.standardize(z_BTm1L, use_running_average=not train)
        return self.vq(z_BTm1L, update_usage=train)

    def calibrate(self, z_ML: jax.Array) -> None:
        """FSQ: sets the statistics inference standardises with to those of continuous actions
        z_ML (of many training clips, by the current weights). Training standardises with each
        batch's own statistics, so the encoder is free to move their mean from step to step and
        running averages lag behind it: seen a running mean 6 standard deviations from the
        current one, which gave every held-out transition the same action."""
        if self.cfg.quantizer.kind != "fsq":
            return
        for stat, value in ((self.standardize.mean, jnp.mean(z_ML, axis=0)), (self.standardize.var, jnp.var(z_ML, axis=0))):
            stat[...] = jax.device_put(value.astype(stat[...].dtype), stat[...].sharding)

    def infer_actions(self, video_BTHWC: jax.Array) -> jax.Array:
        """Latent actions actions_BTm1 (ints in [0, A)): a_t explains frame t -> t+1."""
        return self.quantize(self.encode(video_BTHWC))[1]

    def decode(self, video_BTHWC, action_codes_BTm1L):
        """Predicts frames 1..T-1 from frames 0..T-2 and the (quantised) action codes."""
        frames_BTHWC = video_BTHWC[:, :-1]
        dp, (b, t) = self.dec_patch, frames_BTHWC.shape[:2]
        x = self.dec_embed(patchify(frames_BTHWC, dp)) + self.dec_pos[...]
        x = x + self.action_embed(action_codes_BTm1L)[:, :, None, :]
        if self.cfg.decoder_history:
            h_BTND = self.decoder(x)
        else:  # each frame on its own: a batch of one-frame clips
            h_BTND = self.decoder(x.reshape(b * t, 1, *x.shape[2:])).reshape(x.shape)
        out_BTHWC = unpatchify(self.to_pixels(h_BTND), dp, self.height, self.width)
        if self.cfg.shift_radius:
            weights_BTNS = jax.nn.softmax(self.to_shift(h_BTND), axis=-1)
            return mix_shifts(frames_BTHWC, weights_BTNS, self.cfg.shift_radius, dp) + out_BTHWC
        return jax.nn.sigmoid(out_BTHWC)

    def __call__(self, video_BTHWC, update_usage: bool = False):
        """Returns (predicted frames 1..T-1, actions_BTm1, quantiser stats, continuous actions);
        `update_usage` marks a training step (see `quantize`)."""
        z = self.encode(video_BTHWC)
        q, actions, aux = self.quantize(z, train=update_usage)
        return self.decode(video_BTHWC, q), actions, aux, z

    def loss(self, video_BTHWC):
        pred, actions, aux, z = self(video_BTHWC, update_usage=True)
        target = video_BTHWC[:, 1:]
        mse = jnp.mean(jnp.square(pred - target))
        q = self.cfg.quantizer
        loss = mse + q.codebook_weight * aux["codebook_loss"] + q.commitment_weight * aux["commitment_loss"]
        metrics = {"loss": loss, "mse": mse, **aux}
        return loss, metrics, z
