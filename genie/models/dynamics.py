"""DynamicsModel: MaskGIT over tokenizer tokens, conditioned on latent actions.

Inputs are the tokens of frames 0..T-1, frames 1..T-1 partly replaced by a mask token; the
embedding of a_t is added to frame t+1 (Genie's additive actions). A causal ST transformer
predicts every frame's tokens, so the logits of frame t+1 depend on frames 0..t, on a_0..a_t
and on the visible tokens of frame t+1 itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from genie.config import DynamicsConfig
from genie.nn.compute import Compute
from genie.nn.layers import Cache, STTransformer
from genie.sample.maskgit import training_mask


class DynamicsModel(nnx.Module):
    def __init__(self, cfg: DynamicsConfig, num_codes: int, num_tokens: int, num_actions: int, *, rngs: nnx.Rngs,
                 compute: Compute = Compute()):
        self.cfg, self.num_codes, self.num_actions = cfg, num_codes, num_actions
        self.mask_id = num_codes  # one extra embedding row for the mask token
        self.token_embed = nnx.Embed(num_codes + 1, cfg.transformer.width, rngs=rngs)
        self.pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (num_tokens, cfg.transformer.width)))
        self.action_embed = nnx.Embed(num_actions, cfg.transformer.width, rngs=rngs)
        shape = cfg.transformer
        self.transformer = STTransformer(shape.width, shape.ffw, shape.heads, cfg.layers, rngs=rngs,
                                         compute=compute, ternary=shape.ternary)
        self.head = nnx.Linear(cfg.transformer.width, num_codes, rngs=rngs)

    def _embed(self, tokens_BTN, actions_BTm1):
        x = self.token_embed(tokens_BTN) + self.pos[...]
        act_BTm1D = self.action_embed(actions_BTm1)
        return x.at[:, 1:].add(act_BTm1D[:, :, None, :])  # a_t joins frame t+1; frame 0 has none

    def __call__(self, tokens_BTN: jax.Array, actions_BTm1: jax.Array) -> jax.Array:
        """Logits for every frame's tokens: [B, T, N, K]."""
        return self.head(self.transformer(self._embed(tokens_BTN, actions_BTm1)))

    def prefill(self, tokens_BTN, actions_BTm1) -> tuple[jax.Array, Cache]:
        """Runs T known frames; returns their logits and the cache of their T slots."""
        h, cache = self.transformer.prefill(self._embed(tokens_BTN, actions_BTm1))
        return self.head(h), cache

    def step(self, tokens_BN, action_B, cache: Cache, slot) -> tuple[jax.Array, Cache]:
        """Logits for one new frame at `slot` (> 0) reached by `action_B`, against the cache."""
        x = self.token_embed(tokens_BN) + self.pos[...] + self.action_embed(action_B)[:, None, :]
        h, frame_kv = self.transformer.step(x, cache, slot)
        return self.head(h), frame_kv

    def loss(self, tokens_BTN, actions_BTm1, key):
        """Cross-entropy on the masked tokens; metrics include their accuracy."""
        cfg = self.cfg
        mask = training_mask(key, tokens_BTN.shape, cfg.mask_rate_min, cfg.mask_rate_max, cfg.mask_rate_per_frame)
        logits = self(jnp.where(mask, self.mask_id, tokens_BTN), actions_BTm1).astype(jnp.float32)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, tokens_BTN)
        n_masked = jnp.maximum(mask.sum(), 1)
        loss = jnp.sum(ce * mask) / n_masked
        accuracy = jnp.sum((jnp.argmax(logits, -1) == tokens_BTN) * mask) / n_masked
        return loss, {"loss": loss, "token_accuracy": accuracy, "mask_fraction": mask[:, 1:].mean()}
