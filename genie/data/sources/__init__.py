"""Data sources: where a dataset's clips come from, behind one small interface.

A source is a `Source` registered under the name that datasets record in their manifest
("source"). It says how to make a dataset for a config (`generate`; an importing source such as
"videos" has its own entry point instead), which of its settings a dataset must share with a
config to be reused (`mismatches`), the names of its true actions, and what it can offer
evaluation and play beyond the clips (`first_frame` of a held-out level, `identifiability` of
its actions, `play_level` and `find_player` to set a world's long play beside the real game's).
Everything else (shards, manifest, checks, loading, training) is generic.

    from genie.data.sources import Source, register
    register(MySource())        # then --config.data.source=my_source
"""

from __future__ import annotations

import pathlib

import numpy as np

from genie.config import Config, DataConfig, dict_differences, to_dict, upgrade_config_dict
from genie.data.shards import DataError

# Data fields a source does not compare: where the dataset is and how many processes made it
# (neither changes its clips), and the frame size and clip length (dataset.py checks those).
_NOT_COMPARED = ("dir", "source", "workers", "height", "width", "clip_length")


class Source:
    """The interface, with the behaviour of a source that offers nothing beyond its clips."""

    name = ""
    # True where `generate` makes the same dataset again from the config (regenerating loses nothing).
    reproducible = False

    def generate(self, cfg: Config, out_dir: pathlib.Path, log=print) -> dict:
        """Writes every split of a dataset for `cfg` into out_dir; returns its manifest."""
        raise DataError(f"the {self.name!r} source cannot generate a dataset: {out_dir} needs one made by "
                        f"its own tool")

    def mismatches(self, manifest: dict, cfg: Config) -> list[str]:
        """Why the dataset of `manifest` was not made the way `cfg` would make it, beyond frame size
        and clip length (which every source shares); one readable line each, or none."""
        return []

    def first_frame(self, cfg: Config, level: int | None, seed: int) -> np.ndarray | None:
        """The first frame (uint8 [H, W, 3]) of a held-out level, by number or drawn by `seed`,
        where the source has levels; None where it has not."""
        return None

    def play_level(self, cfg: Config, level: int, steps: int, seed: int) -> dict | None:
        """The real game on `level` under the source's own policy for up to `steps` steps (fewer
        where the episode ends first): {"frames_THWC": uint8, "actions_Tm1": its true actions},
        for long play side by side with a world; None where the source has no game to play."""
        return None

    def find_player(self, cfg: Config, frames_NHWC: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Whether each frame shows the game's player (bool [N]), where (pixels [N, 2], NaN where
        not), and how near (pixels) a drawn player must be to where it should be to count as in
        place; for object permanence in long play. None where the source cannot tell."""
        return None

    def identifiability(self, cfg: Config) -> dict | None:
        """How well the frames can tell the true actions apart: {"true_M": actions, "outcome_M":
        a label per transition shared by the actions that give the same next frame, "note": what
        makes two actions alike}, or None where the source cannot replay its actions."""
        return None


def settings_mismatches(manifest: dict, cfg: Config, section: str) -> list[str]:
    """How the config a dataset was made with (its manifest's) differs from `cfg` in the source's
    own section (`section`, e.g. "platformer") and in the data section's fields that shape clips."""
    content = lambda tree: {section: tree[section],
                            "data": {k: v for k, v in tree["data"].items() if k not in _NOT_COMPARED}}
    made = upgrade_config_dict(manifest.get("config", {}))
    # A field added since the dataset was made had its default's effect then.
    made = {section: {**to_dict(getattr(Config(), section)), **made.get(section, {})},
            "data": {**to_dict(DataConfig()), **made.get("data", {})}}
    return dict_differences(content(made), content(to_dict(cfg)), "there", "wanted")


_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    if not source.name:
        raise ValueError("a source needs a name: the one datasets record in their manifest")
    _REGISTRY[source.name] = source
    return source


def get_source(name: str) -> Source:
    if name not in _REGISTRY:
        raise DataError(f"unknown data source {name!r}; known: {sorted(_REGISTRY)} (a new one is registered with "
                        "genie.data.sources.register)")
    return _REGISTRY[name]


def _register_builtin() -> None:
    from genie.data.sources.platformer import PlatformerSource
    from genie.data.sources.procgen import ProcgenSource
    from genie.data.sources.videos import VideoSource

    register(PlatformerSource())
    register(ProcgenSource())
    register(VideoSource())


_register_builtin()
