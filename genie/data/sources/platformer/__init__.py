"""The procedural platformer as a data source: its game (env, levels, render), the exploration
policy that plays it, clip generation, and the probes it offers evaluation and play. Registered
with gymnasium as genie/Platformer-v0 (genie/__init__.py)."""

from __future__ import annotations

import pathlib

import numpy as np

from genie.config import Config
from genie.data.sources import Source, settings_mismatches


class PlatformerSource(Source):
    name = "platformer"
    reproducible = True

    def generate(self, cfg: Config, out_dir: pathlib.Path, log=print) -> dict:
        from genie.data.sources.platformer.generate import generate_dataset

        return generate_dataset(cfg, out_dir, log=log)

    def mismatches(self, manifest: dict, cfg: Config) -> list[str]:
        from genie.data.sources.platformer.env import VERSION
        from genie.data.sources.platformer.policy import POLICY_VERSION

        diffs = settings_mismatches(manifest, cfg, "platformer")
        if manifest.get("platformer_version", 1) != VERSION:
            diffs.append(f"platformer version {manifest.get('platformer_version', 1)} there, {VERSION} wanted: "
                         "its physics or drawing have changed since")
        if manifest.get("policy_version", 1) != POLICY_VERSION:
            diffs.append(f"policy version {manifest.get('policy_version', 1)} there, {POLICY_VERSION} wanted: the "
                         "exploration policy records other actions since")
        return diffs

    def first_frame(self, cfg: Config, level: int | None, seed: int) -> np.ndarray:
        from genie.data.sources.platformer.env import PlatformerEnv

        env = PlatformerEnv(cfg.platformer, level_seeds=tuple(cfg.data.test_seeds), height=cfg.data.height,
                            width=cfg.data.width)
        return env.reset(seed=seed, options=None if level is None else {"level_seed": level})[0]

    def play_level(self, cfg: Config, level: int, steps: int, seed: int) -> dict:
        from genie.data.sources.platformer.env import VecPlatformer
        from genie.data.sources.platformer.policy import ExplorationPolicy

        env = VecPlatformer(cfg.platformer, 1, cfg.data.height, cfg.data.width)
        env.reset_env(0, level)
        policy = ExplorationPolicy(env, np.random.default_rng(seed), cfg.platformer.action_repeat)
        frames, actions = [env.render()[0].copy()], []
        for _ in range(steps):
            action = policy()
            _, terminated, truncated = env.step(action)
            if terminated[0] or truncated[0]:
                break
            frames.append(env.render()[0].copy())
            actions.append(int(action[0]))
        return {"frames_THWC": np.stack(frames), "actions_Tm1": np.asarray(actions, np.int64)}

    def find_player(self, cfg: Config, frames_NHWC: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        from genie.data.sources.platformer.player import find_player

        tile = cfg.data.height // cfg.platformer.tiles_per_view
        return (*find_player(frames_NHWC, tile), float(tile))  # in place: within a tile

    def identifiability(self, cfg: Config) -> dict:
        from genie.data.sources.platformer.identifiability import outcome_labels

        return {**outcome_labels(cfg), "note": "a jump in the air, a step into a wall"}
