"""Configs: nested frozen dataclasses, loaded from `configs/<name>.py` and overridden by flags.

A config file defines `get_config() -> Config`. Command-line overrides look like
`--config.data.train_clips=100` or `--config.data.train_seeds 0 500` (tuples take one value
each); they are parsed and type-checked by tyro, after a check here that every named field
exists, so that a typo is refused with the list of valid fields instead of a guess.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import types
import typing


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class PlatformerConfig:
    """The procedural platformer (the "platformer" data source): its levels, physics and drawing,
    and the exploration policy that plays it. The frames' size is the data's."""

    tiles_per_view: int = 8  # the view is this many tiles tall; sets the tile size in pixels
    level_height: int = 10  # level height in tiles (taller than the view: the camera follows)
    min_level_length: int = 48  # level length in tiles, drawn per level
    max_level_length: int = 96
    max_episode_steps: int = 500  # time limit: the episode is truncated here
    friction: float = 0.0  # share of the horizontal speed kept from the step before; 0: none
    style: str = "detailed"  # detailed | flat (no pixel grain on the ground, no stars): easier to tokenize
    # A far skyline of towers in the sky, whose upright edges show sideways scrolling over the
    # whole view (docs/record.md, "What the skyline does").
    skyline: bool = False
    envs_per_worker: int = 32  # environments stepped together by one generation worker
    action_repeat: tuple[int, int] = (1, 8)  # the exploration policy holds an action this long


@dataclasses.dataclass(frozen=True)
class ProcgenConfig:
    """Procgen games (the "procgen" data source, genie/data/sources/procgen/): which game, and the
    policy that plays it. Frames are the games' own 64x64, resized where data.height/width differ."""

    game: str = "coinrun"  # any Procgen game by name
    distribution_mode: str = "hard"  # easy | hard: Genie's CoinRun is hard
    # random: each action drawn at random and held for action_repeat steps (Genie's random agent);
    # explorer: the same draws, but a life lost is undone by going back `backtrack` steps (the
    # game's state restored) and drawing again, so episodes reach their levels' ends.
    policy: str = "random"  # random | explorer
    action_repeat: tuple[int, int] = (1, 1)  # (shortest, longest) hold of a drawn action, in steps
    # Actions drawn with probability `favour` (by name, e.g. ("RIGHT", "RIGHT+UP")); the rest of the
    # time any action, uniformly. Empty: always uniformly.
    favoured_actions: tuple[str, ...] = ()
    favour: float = 0.0
    backtrack: int = 24  # explorer: steps undone after a life is lost
    max_backtracks: int = 200  # explorer: lives given back per episode before a loss is kept
    max_episode_steps: int = 1000  # CoinRun's own time limit
    # Clips taken from one episode (non-overlapping, at random places along it); None: every
    # clip the episode holds (Genie: 1,000 steps a level). Fewer clips a level, more levels.
    clips_per_episode: int | None = None


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The clips: where they come from, their size, the on-disk dataset and loading."""

    # The source that makes the dataset when data.dir holds none (genie/data/sources/); a dataset
    # that is already there is used whatever its source (its manifest names it).
    source: str = "platformer"
    dir: str | None = None  # dataset folder; None: data/<config name>
    height: int = 64  # frame height in pixels
    width: int = 64  # frame width in pixels
    clip_length: int = 16  # frames per clip (T)
    train_clips: int = 4096
    val_clips: int = 256
    test_clips: int = 256
    # Level-seed ranges [start, stop) of each split, for sources with levels; disjoint so that
    # val/test levels are unseen.
    train_seeds: tuple[int, int] = (0, 10_000)
    val_seeds: tuple[int, int] = (1_000_000, 1_010_000)
    test_seeds: tuple[int, int] = (2_000_000, 2_010_000)
    clips_per_shard: int = 512
    workers: int | None = None  # generation processes; None: one per CPU core
    seed: int = 0  # seeds generation (a source's policy) and the split of imported videos


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """The shape of a spatiotemporal transformer's blocks (genie/nn/layers.py)."""

    width: int = 128
    ffw: int = 512  # hidden width of the feed-forward layers
    heads: int = 4
    # BitNet b1.58: every linear layer of the blocks has weights in {-1, 0, +1} times one scale and
    # 8-bit inputs (genie/nn/bitlinear.py); embeddings, output heads and norms stay float.
    ternary: bool = False


@dataclasses.dataclass(frozen=True)
class QuantizerConfig:
    """How a model's continuous vectors become one of K discrete codes (genie/quantizers/)."""

    # vq: a learnt codebook compared by cosine (Genie's); fsq: finite scalar quantisation, K =
    # prod(fsq_levels), nothing learnt; pixel (tokenizer only): a codebook of image patches
    # (code_dim = patch_size^2 * 3) fitted by k-means before step 0, with no transformer around it
    # (genie/models/patch_tokenizer.py).
    kind: str = "vq"
    num_codes: int = 1024  # K (the LAM's number of latent actions A)
    code_dim: int = 32  # L
    fsq_levels: tuple[int, ...] | None = None  # fsq: levels per code dimension, e.g. (8, 5, 5, 5) = 1000 codes
    commitment_weight: float = 0.25
    codebook_weight: float = 1.0
    usage_decay: float = 0.99  # EMA of how often each code is chosen
    dead_code_threshold: float = 1e-3  # vq: codes chosen less than this (EMA fraction) are restarted


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    """ST-ViViT VQ-VAE: patchify, causal ST encoder, quantizer, causal ST decoder; or, with a pixel
    quantizer, the patch codebook alone (the transformer fields unused, 0 training steps)."""

    patch_size: int = 4
    transformer: TransformerConfig = dataclasses.field(default_factory=TransformerConfig)
    encoder_layers: int = 2
    decoder_layers: int = 2
    quantizer: QuantizerConfig = dataclasses.field(default_factory=QuantizerConfig)
    kmeans_clips: int = 512  # pixel: training clips whose patches (every 4th frame) the codes are fitted to


@dataclasses.dataclass(frozen=True)
class LAMConfig:
    """Latent action model: reads pixels, one of A = quantizer.num_codes discrete actions per transition."""

    patch_size: int = 16
    transformer: TransformerConfig = dataclasses.field(default_factory=TransformerConfig)
    encoder_layers: int = 2
    decoder_layers: int = 2
    quantizer: QuantizerConfig = dataclasses.field(
        default_factory=lambda: QuantizerConfig(num_codes=8, dead_code_threshold=0.01))
    # The encoder also reads, per patch, how well the previous frame moved by each shift of up to
    # this many pixels matches it (genie/nn/motion.py); 0: pixels only.
    motion_radius: int = 0
    # The decoder's output for each patch: a mixture of frame t moved by each whole-pixel shift of
    # up to this many pixels, plus a residual (genie/models/lam.py); 0: drawn.
    shift_radius: int = 0
    decoder_patch_size: int | None = None  # None: patch_size
    decoder_history: bool = True  # the decoder reads frames 0..t (Genie); False: frame t alone
    calibration_clips: int = 64  # fsq: training clips whose codes set inference's standardisation

    @property
    def num_actions(self) -> int:
        return self.quantizer.num_codes


@dataclasses.dataclass(frozen=True)
class DynamicsConfig:
    """MaskGIT dynamics over tokenizer tokens, actions added to the frame they lead to."""

    transformer: TransformerConfig = dataclasses.field(default_factory=TransformerConfig)
    layers: int = 4
    mask_rate_min: float = 0.5  # training mask rate ~ U(min, max) per clip (or per frame: below)
    mask_rate_max: float = 1.0
    # Draw the rate per frame instead of per clip (Genie), with mask_rate_min=0 so that training
    # also sees a frame predicted from whole frames, as in generation: the shipped world's long
    # play keeps its player in 88% of frames against 76% (docs/record.md, "what breaks long play").
    mask_rate_per_frame: bool = False


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """Generating frames with a trained dynamics model: what evaluation, play and the benchmark use
    (a checkpoint does not depend on it)."""

    maskgit_steps: int = 8  # S
    temperature: float = 1.0
    choice_temperature: float = 4.5  # gumbel noise on the keep/re-mask choice, annealed to 0


@dataclasses.dataclass(frozen=True)
class ComputeConfig:
    """How the transformers compute, not what they learn: no checkpoint depends on it, so a run
    trained one way is resumed, evaluated or played another (genie/nn/compute.py)."""

    # bfloat16: the transformer blocks multiply in bfloat16 while parameters, optimizer state,
    # norms' statistics, softmax, quantizers and losses stay float32; auto: bfloat16 on GPU and
    # TPU, float32 on CPU (where bfloat16 runs slower).
    precision: str = "auto"  # auto | float32 | bfloat16
    # xla: XLA's own attention (on CPU the cached step is a hand-written product over a cache laid
    # out for it); cudnn: cuDNN's fused attention (GPU, bfloat16); auto: cudnn where it can run.
    attention: str = "auto"  # auto | xla | cudnn
    # Recompute each block's activations in the backward pass instead of keeping them: less
    # memory (larger batches), about a third more compute. On CPU XLA's default scheduler keeps
    # the recomputed activations as long as saved ones, so it saves nothing there (docs/record.md).
    remat: bool = False


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """One stage's optimisation: AdamW, warmup then a decay, gradient clipping."""

    steps: int = 1000
    batch_size: int = 8  # global, over all processes and devices
    lr: float = 3e-4
    warmup_steps: int = 100
    schedule: str = "cosine"  # cosine | wsd (warmup-stable-decay) | constant
    end_lr_fraction: float = 0.1  # the learning rate ends at lr * this
    decay_fraction: float = 0.2  # wsd: the last fraction of steps decays
    b1: float = 0.9
    b2: float = 0.99
    weight_decay: float = 1e-4
    grad_clip: float = 1.0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    tokenizer: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    lam: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    dynamics: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    cotrain_lam: bool = False  # the dynamics stage also trains the LAM (Genie's CoinRun case study)
    # A run whose stages' latest weights start this run's (models of the same shapes), in place of
    # random ones: e.g. a float run's, fine-tuned here as ternary (transformer.ternary).
    init_from: str | None = None
    # Keep what the frozen tokenizer and LAM make of each training clip (~4 KB a clip at 64x64),
    # so a clip seen again skips their forward pass; the losses are the same either way.
    cache_frozen: bool = True
    log_every: int = 20
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    # Training goes on while a checkpoint is written (each still complete or absent, never partial).
    async_checkpoints: bool = True
    sample_every: int = 500  # pictures of reconstructions and rollouts; 0 for none
    restart_dead_codes_every: int = 50  # VQ dead-code restart interval; 0 for never
    param_sharding: str = "replicate"  # replicate | fsdp (shard parameters over the data axis)
    wandb: bool = False  # also log to Weights & Biases (pip install wandb)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """scripts/evaluate.py, also the last stage of scripts/train.py."""

    split: str = "test"
    clips: int = 256  # the first clips of the split (all of them if it has fewer)
    batch_size: int = 32
    prompt_frames: int = 1  # rollouts start from this many true frames (k)
    grid_prompts: int = 3  # the action-effect grid: prompts, and steps each action is held
    grid_steps: int = 6
    held_prompts: int = 32  # prompts each latent action is held from to measure how it moves the world
    # Long play beside the real game, where the data's source can play it: held-out levels, and
    # steps of play from each one's first frame through play's sliding window.
    long_play_starts: int = 8
    long_play_steps: int = 64
    scene_clips: int = 4096  # training clips whose frames show which tokens real scenes stack


@dataclasses.dataclass(frozen=True)
class Config:
    name: str = "default"
    seed: int = 0
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    platformer: PlatformerConfig = dataclasses.field(default_factory=PlatformerConfig)
    procgen: ProcgenConfig = dataclasses.field(default_factory=ProcgenConfig)
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    lam: LAMConfig = dataclasses.field(default_factory=LAMConfig)
    dynamics: DynamicsConfig = dataclasses.field(default_factory=DynamicsConfig)
    sampling: SamplingConfig = dataclasses.field(default_factory=SamplingConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)

    @property
    def data_dir(self) -> pathlib.Path:
        return pathlib.Path(self.data.dir or f"data/{self.name}")


# What a field may hold: (smallest, largest) for a number, either bound None for none, or the
# strings it may be. A field not listed here is not checked.
_LIMITS = {
    PlatformerConfig: {"tiles_per_view": (1, None), "level_height": (1, None), "min_level_length": (1, None),
                       "max_level_length": (1, None), "max_episode_steps": (1, None), "friction": (0.0, 1.0),
                       "style": ("detailed", "flat"), "envs_per_worker": (1, None)},
    ProcgenConfig: {"distribution_mode": ("easy", "hard"), "policy": ("random", "explorer"), "favour": (0.0, 1.0),
                    "backtrack": (1, None), "max_backtracks": (0, None), "max_episode_steps": (2, None),
                    "clips_per_episode": (1, None)},
    DataConfig: {"height": (1, 4096), "width": (1, 4096), "clip_length": (2, None), "train_clips": (1, None),
                 "val_clips": (0, None), "test_clips": (0, None), "clips_per_shard": (1, None), "workers": (1, 1024)},
    TransformerConfig: {"width": (1, None), "ffw": (1, None), "heads": (1, None)},
    QuantizerConfig: {"kind": ("vq", "fsq", "pixel"), "num_codes": (2, None), "code_dim": (1, None),
                      "commitment_weight": (0.0, None), "codebook_weight": (0.0, None), "usage_decay": (0.0, 1.0),
                      "dead_code_threshold": (0.0, 1.0)},
    TokenizerConfig: {"patch_size": (1, None), "encoder_layers": (1, None), "decoder_layers": (1, None),
                      "kmeans_clips": (1, None)},
    LAMConfig: {"patch_size": (1, None), "encoder_layers": (1, None), "decoder_layers": (1, None),
                "motion_radius": (0, None), "shift_radius": (0, None), "decoder_patch_size": (1, None),
                "calibration_clips": (1, None)},
    DynamicsConfig: {"layers": (1, None), "mask_rate_min": (0.0, 1.0), "mask_rate_max": (0.0, 1.0)},
    SamplingConfig: {"maskgit_steps": (1, None), "temperature": (0.0, None), "choice_temperature": (0.0, None)},
    ComputeConfig: {"precision": ("auto", "float32", "bfloat16"), "attention": ("auto", "xla", "cudnn")},
    OptimConfig: {"steps": (0, None), "batch_size": (1, None), "lr": (0.0, None), "warmup_steps": (0, None),
                  "schedule": ("cosine", "wsd", "constant"), "end_lr_fraction": (0.0, 1.0),
                  "decay_fraction": (0.0, 1.0), "b1": (0.0, 1.0), "b2": (0.0, 1.0), "weight_decay": (0.0, None),
                  "grad_clip": (0.0, None)},
    TrainConfig: {"log_every": (1, None), "checkpoint_every": (1, None), "keep_checkpoints": (1, None),
                  "sample_every": (0, None), "restart_dead_codes_every": (0, None),
                  "param_sharding": ("replicate", "fsdp")},
    EvalConfig: {"split": ("train", "val", "test"), "clips": (1, None), "batch_size": (1, None),
                 "prompt_frames": (1, None), "grid_prompts": (1, None), "grid_steps": (1, None),
                 "held_prompts": (1, None), "long_play_starts": (0, None), "long_play_steps": (1, None),
                 "scene_clips": (1, None)},
}


def _out_of_range(value, limit) -> str | None:
    """What is wrong with `value` under `limit` (see _LIMITS), or None."""
    if value is None:
        return None
    if isinstance(limit[0], str):
        return None if value in limit else f"it must be one of {', '.join(limit)}"
    low, high = limit
    if (low is not None and value < low) or (high is not None and value > high):
        return (f"it must be at least {low}" if high is None else f"it must be between {low} and {high}")
    return None


def _problems(section, path: str) -> list[str]:
    problems = []
    limits = _LIMITS.get(type(section), {})
    for f in dataclasses.fields(section):
        value, dotted = getattr(section, f.name), f"{path}{f.name}"
        if dataclasses.is_dataclass(value):
            problems += _problems(value, dotted + ".")
        elif f.name in limits and (why := _out_of_range(value, limits[f.name])):
            problems.append(f"{dotted}={value!r}: {why}")
        elif f.name.endswith("_seeds") and not 0 <= value[0] < value[1]:
            problems.append(f"{dotted}={value!r}: a range [start, stop) of level seeds, 0 <= start < stop")
    return problems


def validate(cfg: Config) -> Config:
    """`cfg`, after checking every field against its range and the fields that bound each other;
    a ConfigError lists what is out of range."""
    problems = _problems(cfg, "")
    relations = [
        (cfg.platformer.min_level_length <= cfg.platformer.max_level_length,
         "platformer.min_level_length must not exceed platformer.max_level_length"),
        (1 <= cfg.platformer.action_repeat[0] <= cfg.platformer.action_repeat[1],
         f"platformer.action_repeat={cfg.platformer.action_repeat}: (shortest, longest) hold, "
         "1 <= shortest <= longest"),
        (1 <= cfg.procgen.action_repeat[0] <= cfg.procgen.action_repeat[1],
         f"procgen.action_repeat={cfg.procgen.action_repeat}: (shortest, longest) hold, 1 <= shortest <= longest"),
        (cfg.procgen.favour == 0 or cfg.procgen.favoured_actions,
         f"procgen.favour={cfg.procgen.favour} favours no action: name some in procgen.favoured_actions"),
        (cfg.data.source != "procgen" or cfg.data.clip_length <= cfg.procgen.max_episode_steps,
         f"data.clip_length={cfg.data.clip_length} is longer than an episode (procgen.max_episode_steps)"),
        (cfg.dynamics.mask_rate_min <= cfg.dynamics.mask_rate_max,
         "dynamics.mask_rate_min must not exceed dynamics.mask_rate_max"),
        (cfg.eval.prompt_frames < cfg.data.clip_length,
         f"eval.prompt_frames={cfg.eval.prompt_frames} leaves nothing to generate in clips of {cfg.data.clip_length}"),
        *((getattr(cfg, m).transformer.width % getattr(cfg, m).transformer.heads == 0,
           f"{m}.transformer.width={getattr(cfg, m).transformer.width} does not split into "
           f"{getattr(cfg, m).transformer.heads} heads") for m in ("tokenizer", "lam", "dynamics")),
        (not (cfg.tokenizer.quantizer.kind == "pixel" and cfg.tokenizer.transformer.ternary),
         "tokenizer.transformer.ternary=True does nothing to a pixel tokenizer, which has no transformer"),
    ]
    problems += [message for holds, message in relations if not holds]
    if problems:
        raise ConfigError("config values out of range: " + "; ".join(problems))
    return cfg


def load_config(path: str | pathlib.Path) -> Config:
    """Imports a config file and returns its `get_config()`."""
    path = pathlib.Path(path)
    if not path.is_file():
        available = sorted(p.name for p in path.parent.glob("*.py")) if path.parent.is_dir() else []
        raise ConfigError(f"config file {path} does not exist; configs there: {available}")
    spec = importlib.util.spec_from_file_location(f"genie_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} has no get_config() function")
    cfg = module.get_config()
    if not isinstance(cfg, Config):
        raise ConfigError(f"{path}: get_config() returned {type(cfg).__name__}, not genie.config.Config")
    return validate(cfg)


def _field_types(cls) -> dict[str, typing.Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


_RENAMED = {"num_actions": "num_codes"}  # the LAM's actions are its quantizer's codes


def _check_path(cfg_cls, dotted: str) -> None:
    cls, parts = cfg_cls, dotted.split(".")
    for depth, part in enumerate(parts):
        fields = _field_types(cls)
        where = ".".join(parts[:depth]) or "the top level"
        if part not in fields:
            # A field that moved into a sub-section (lam.width is lam.transformer.width now).
            new = _RENAMED.get(part, part)
            moved = [".".join([*parts[:depth], name, new]) for name, sub in fields.items()
                     if dataclasses.is_dataclass(sub) and new in _field_types(sub)]
            hint = f"; did you mean {' or '.join(moved)}?" if moved else ""
            raise ConfigError(f"unknown config field '{dotted}': {where} has fields {sorted(fields)}{hint}")
        cls = fields[part]
        is_last = depth == len(parts) - 1
        if dataclasses.is_dataclass(cls) and is_last:
            raise ConfigError(f"'{dotted}' is a section; set one of its fields: {sorted(_field_types(cls))}")
        if not dataclasses.is_dataclass(cls) and not is_last:
            raise ConfigError(f"'{'.'.join(parts[:depth + 1])}' is a value, not a section")


def apply_overrides(cfg: Config, args: list[str]) -> Config:
    """Applies `--config.<field>=<value>` arguments; anything else is refused."""
    import tyro  # only the command line needs it

    stripped = []
    for arg in args:
        if arg.startswith("--config."):
            _check_path(Config, arg[len("--config."):].split("=", 1)[0])
            stripped.append("--" + arg[len("--config."):])
        elif arg.startswith("-"):
            raise ConfigError(f"unknown option {arg}; config fields are set with --config.<field>=<value>")
        else:
            stripped.append(arg)  # a value of the previous flag (tuples take several)
    if not stripped:
        return cfg
    # Booleans take a value (--config.train.cotrain_lam=True), as every other field does.
    return validate(tyro.cli(Config, default=cfg, args=stripped, use_underscores=True,
                             config=(tyro.conf.FlagConversionOff,)))


def _coerce(value, annotation, dotted):
    origin = typing.get_origin(annotation)
    if origin is types.UnionType:  # X | None
        (inner,) = [t for t in typing.get_args(annotation) if t is not type(None)]
        return None if value is None else _coerce(value, inner, dotted)
    if origin is tuple:
        item_types = typing.get_args(annotation)
        if len(item_types) == 2 and item_types[1] is Ellipsis and isinstance(value, (tuple, list)):
            item_types = item_types[:1] * len(value)  # tuple[int, ...]: any length
        if not isinstance(value, (tuple, list)) or len(value) != len(item_types):
            raise ConfigError(f"{dotted} needs {len(item_types)} values, got {value!r}")
        return tuple(_coerce(v, t, dotted) for v, t in zip(value, item_types))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
        raise ConfigError(f"{dotted} is {annotation.__name__}, got {type(value).__name__} {value!r}")
    return value


def override(cfg, updates: dict[str, typing.Any], _prefix: str = ""):
    """Returns cfg with dotted fields replaced, e.g. override(cfg, {"data.train_clips": 8})."""
    for dotted, value in updates.items():
        _check_path(type(cfg), dotted)
        head, _, rest = dotted.partition(".")
        if rest:
            value = override(getattr(cfg, head), {rest: value}, f"{_prefix}{head}.")
        else:
            value = _coerce(value, _field_types(type(cfg))[head], _prefix + dotted)
        cfg = dataclasses.replace(cfg, **{head: value})
    return validate(cfg) if isinstance(cfg, Config) else cfg


def dict_differences(old: dict, new: dict, old_name: str, new_name: str, prefix: str = "") -> list[str]:
    """Readable differences between two nested dicts (configs as JSON), one line per field."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += dict_differences(a, b, old_name, new_name, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} {old_name}, {b!r} {new_name}")
    return out


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def upgrade_config_dict(tree: dict) -> dict:
    """A config (or a checkpoint's signature) as JSON, from before the platformer became one data
    source among several, in today's layout: its `env` section held both the frame size (now
    data.height/width) and the game's settings (now `platformer`, with the generator's
    envs_per_worker and action_repeat from `data`); a signature's clip_length is data's; the
    sampling settings were the dynamics section's; the models' sections held their transformer's
    shape and their quantizer's fields flat; "unset" was 0 or ""; a LAM of the removed warping
    decoder is refused."""
    tree = json.loads(json.dumps(tree))
    data = tree.get("data", {})
    platformer = {k: data.pop(k) for k in ("envs_per_worker", "action_repeat") if k in data}
    if "clip_length" in tree:
        data["clip_length"] = tree.pop("clip_length")
    env = tree.pop("env", None) or {}
    data.update({k: env.pop(k) for k in ("height", "width") if k in env})
    env.pop("frame_skip", None)  # always 1: one physics step per step
    lam = tree.get("lam", {})
    if lam.pop("warp", False):
        raise ConfigError("this run's LAM warps frames by a flow field, a decoder this version of genie no longer has "
                          "(its shift mixture, lam.shift_radius, replaced it): train the LAM again, or use an earlier "
                          "version to load it")
    lam.pop("max_flow", None)
    platformer.update(env)
    dynamics, evaluation = tree.get("dynamics", {}), tree.get("eval", {})
    sampling = {k: dynamics.pop(k) for k in ("maskgit_steps", "temperature", "choice_temperature") if k in dynamics}
    if steps := evaluation.pop("maskgit_steps", 0):  # evaluation's own step count, where one was set
        sampling["maskgit_steps"] = steps
    if sampling:
        tree["sampling"] = {**sampling, **tree.get("sampling", {})}
    data.update({k: None for k in ("dir", "workers") if data.get(k) in ("", 0)})
    if lam.get("decoder_patch_size") == 0:
        lam["decoder_patch_size"] = None
    for section, count in (("tokenizer", "num_codes"), ("lam", "num_actions"), ("dynamics", None)):
        _nest_shared_fields(tree.get(section, {}), count)
    if data:
        tree["data"] = data
    if platformer:
        tree["platformer"] = {**platformer, **tree.get("platformer", {})}
    return tree


_QUANTIZER_FIELDS = ("code_dim", "fsq_levels", "commitment_weight", "codebook_weight", "usage_decay",
                     "dead_code_threshold")


def _nest_shared_fields(section: dict, count: str | None) -> None:
    """A model section written before the transformer's shape and the quantizer had their own
    sub-sections: its flat fields moved into them (the LAM's num_actions is its codes' count)."""
    transformer = {k: section.pop(k) for k in ("width", "ffw", "heads") if k in section}
    if transformer:
        section["transformer"] = {**transformer, **section.get("transformer", {})}
    if count is None or isinstance(section.get("quantizer", {}), dict):
        return
    quantizer = {"kind": section.pop("quantizer", "vq")}
    quantizer.update({k: section.pop(k) for k in _QUANTIZER_FIELDS if k in section})
    if count in section:
        quantizer["num_codes"] = section.pop(count)
    if quantizer["kind"] != "fsq" or not quantizer.get("fsq_levels"):
        quantizer["fsq_levels"] = None  # unused then; () or a default of the old layout
    section["quantizer"] = quantizer


def config_from_dict(tree: dict) -> Config:
    """The inverse of to_dict (e.g. a run's config.json, of this or an earlier layout); unknown
    fields are refused."""
    return override(Config(), _flatten(upgrade_config_dict(tree)))


def to_dict(cfg) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))
