"""Environments: the procedural platformer and a learned world (both registered with gymnasium)."""

import gymnasium as gym

PLATFORMER_ID = "genie/Platformer-v0"
WORLD_ID = "genie/World-v0"  # gym.make(WORLD_ID, workdir="runs/cpu")

if PLATFORMER_ID not in gym.registry:
    gym.register(id=PLATFORMER_ID, entry_point="genie.envs.platformer:PlatformerEnv")
if WORLD_ID not in gym.registry:
    gym.register(id=WORLD_ID, entry_point="genie.envs.world_env:WorldEnv")
