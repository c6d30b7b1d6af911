"""Procgen games as a data source (CoinRun first: the benchmark Genie and its peers report): real
game frames and true actions, levels split by seed, two policies (genie/data/sources/procgen/
policy.py), and the probes evaluation and play use (a held-out level's first frame, which actions
the frames can tell apart). Needs the procgen-gym package: pip install -e ".[procgen]"."""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib

import numpy as np

from genie.config import Config
from genie.data.sources import Source, settings_mismatches


class ProcgenSource(Source):
    name = "procgen"
    reproducible = True

    def generate(self, cfg: Config, out_dir: pathlib.Path, log=print) -> dict:
        from genie.data.sources.procgen.generate import generate_dataset

        return generate_dataset(cfg, out_dir, log=log)

    def mismatches(self, manifest: dict, cfg: Config) -> list[str]:
        from genie.data.sources.procgen.game import version

        diffs = settings_mismatches(manifest, cfg, "procgen")
        if manifest.get("procgen_gym_version") != version():
            diffs.append(f"procgen-gym {manifest.get('procgen_gym_version')} there, {version()} here: its games may "
                         "draw or play differently")
        return diffs

    def first_frame(self, cfg: Config, level: int | None, seed: int) -> np.ndarray:
        from genie.data.sources.procgen.game import Game

        if level is None:
            level = int(np.random.default_rng(seed).integers(*cfg.data.test_seeds))
        game = Game(cfg.procgen, level, cfg.data.height, cfg.data.width)
        try:
            return game.frame()
        finally:
            game.close()

    def play_level(self, cfg: Config, level: int, steps: int, seed: int) -> dict:
        from genie.data.sources.procgen.policy import play_episode

        game = dataclasses.replace(cfg.procgen, max_episode_steps=steps + 1)
        episode = play_episode(game, level, np.random.default_rng(seed), cfg.data.height, cfg.data.width)
        return {"frames_THWC": episode.frames_THWC, "actions_Tm1": episode.actions_Tm1}

    def identifiability(self, cfg: Config) -> dict | None:
        from genie.data.sources.procgen.identifiability import outcome_labels

        if importlib.util.find_spec("procgen_gym") is None:
            return None  # evaluated where the game cannot be played: no reference in the report
        return {**outcome_labels(cfg), "note": "keys the game ignores, a jump in the air, a step into a wall"}
