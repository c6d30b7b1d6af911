"""Latent-action world models in JAX: video tokenizer, latent action model, MaskGIT dynamics."""

import gymnasium as _gym

__version__ = "0.1.0"

# Registered by name only (entry points are imported on gym.make): the platformer, and a trained world.
PLATFORMER_ID = "genie/Platformer-v0"
LATENT_ACTION_ID = "genie/LatentAction-v0"  # gym.make(LATENT_ACTION_ID, workdir="runs/cpu")
for _id, _entry in ((PLATFORMER_ID, "genie.data.sources.platformer.env:PlatformerEnv"),
                    (LATENT_ACTION_ID, "genie.play.gym_env:LatentActionEnv")):
    if _id not in _gym.registry:
        _gym.register(id=_id, entry_point=_entry)
