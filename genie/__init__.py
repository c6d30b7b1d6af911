"""Latent-action world models in JAX: video tokenizer, latent action model, MaskGIT dynamics."""

import gymnasium as _gym

__version__ = "0.1.0"

# Registered by name only (entry points are imported on gym.make): the platformer, and a trained world.
PLATFORMER_ID = "genie/Platformer-v0"
WORLD_ID = "genie/World-v0"  # gym.make(WORLD_ID, workdir="runs/cpu")
for _id, _entry in ((PLATFORMER_ID, "genie.data.sources.platformer.env:PlatformerEnv"),
                    (WORLD_ID, "genie.play.gym_env:WorldEnv")):
    if _id not in _gym.registry:
        _gym.register(id=_id, entry_point=_entry)
