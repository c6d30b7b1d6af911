"""Environments: the procedural platformer (registered with gymnasium)."""

import gymnasium as gym

PLATFORMER_ID = "genie/Platformer-v0"

if PLATFORMER_ID not in gym.registry:
    gym.register(id=PLATFORMER_ID, entry_point="genie.envs.platformer:PlatformerEnv")
