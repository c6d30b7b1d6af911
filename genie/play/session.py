"""PlaySession: a trained tokenizer and dynamics model to play, one latent action at a time.

    session = PlaySession.load("runs/cpu")
    frame = session.reset("prompt.png")      # any size: centre-cropped and resized
    frame = session.step(3)                  # uint8 [H, W, 3]
    session.save("session.gif")

Each step is one compiled call: MaskGIT over the new frame's tokens against cached keys/values
of the past frames (genie/sample/rollout.py), then the tokenizer decoder against its own cache. The
window of past frames slides, so play goes on for as long as one likes without recompiling.
With `devices=n` every step runs tensor-parallel over n devices (on a CPU, one per core: see
genie/cores.py), the heads and feed-forward units of each transformer layer split between them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from genie.config import Config
from genie.data.frames import fit_frame, to_float, to_rgb, to_uint8
from genie.nn.layers import MODEL
from genie.runs import load_run
from genie.sample import rollout


class PromptError(ValueError):
    """A prompt that cannot be played from: unreadable, empty, or of the wrong shape."""


def _play_step(graphdef, params, state, action_1, key, steps, temperature, choice_temperature, slide):
    tokenizer, dynamics = nnx.merge(graphdef, params)
    frame, _, state = rollout.next_frame(tokenizer, dynamics, state, action_1, key, steps, temperature,
                                         choice_temperature, slide)
    return to_uint8(frame[0]), state


def _start(graphdef, params, prompt_1kHWC, actions_1km1, context):
    tokenizer, dynamics = nnx.merge(graphdef, params)
    return rollout.start(tokenizer, dynamics, tokenizer.encode(prompt_1kHWC), actions_1km1, context)


def read_prompt(prompt, height: int, width: int) -> np.ndarray:
    """An image file, a PIL image or an array ([H, W], [H, W, C] or k frames [k, H, W, C], uint8
    or float in [0, 1]) -> uint8 frames [k, height, width, 3]."""
    if isinstance(prompt, (str, pathlib.Path)):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(prompt) as image:
                prompt = np.asarray(to_rgb(image))
        except (OSError, UnidentifiedImageError) as e:
            raise PromptError(f"cannot read the prompt image {prompt}: {e}; give a PNG, JPEG or GIF file") from None
    if hasattr(prompt, "convert"):  # a PIL image, of any mode (palette, grey, RGBA)
        try:
            prompt = np.asarray(to_rgb(prompt))
        except OSError as e:  # decoding happens here, so a truncated file fails here
            raise PromptError(f"cannot decode the prompt image: {e}") from None
    array = np.asarray(prompt)
    if array.dtype == object or array.size == 0:
        raise PromptError(f"the prompt is empty or not an image (shape {array.shape})")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise PromptError("the prompt has NaN or infinite values")
        array = to_uint8(array)
    array = array.astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise PromptError(f"a prompt is [H, W], [H, W, C] or [k, H, W, C] with C in 1, 3, 4; got shape {array.shape}")
    rgb = np.repeat(array, 3, axis=-1) if array.shape[-1] == 1 else array[..., :3]
    return np.stack([fit_frame(f, height, width) for f in rgb])


class PlaySession:
    def __init__(self, cfg: Config, models: dict, *, maskgit_steps: int | None = None, temperature: float | None = None,
                 slide: int | None = None, seed: int = 0, action_map: dict | None = None, devices: int | None = 1):
        """`models`: the tokenizer and dynamics model (and the LAM, for prompts of several frames).
        `slide`: frames the window drops at once when full (default: half of it), so that the
        caches are refilled once every `slide` frames; 1 keeps the longest context.
        `devices`: local devices to split each step over (tensor parallelism); None: two CPU
        devices where there are two and the model is wide enough to gain from it."""
        self.cfg, self.models = cfg, models
        self.height, self.width = cfg.data.height, cfg.data.width
        self.context = cfg.data.clip_length
        self.num_actions = cfg.lam.num_actions
        self.maskgit_steps = maskgit_steps or cfg.sampling.maskgit_steps
        self.temperature = cfg.sampling.temperature if temperature is None else temperature
        self.slide = slide or rollout.default_slide(self.context)
        self.action_map = action_map
        self.seed = seed
        graphdef, self._params = nnx.split((models["tokenizer"], models["dynamics"]))
        self.devices = _auto_devices(cfg) if devices is None else devices
        self._mesh = _model_mesh(cfg, self.devices)
        # Fixed output shardings, so that the state a step hands back has the shardings of the
        # one it took and the step compiles once: the caches split by heads, as computed.
        replicated = state = None
        if self._mesh is not None:
            replicated, by_heads = NamedSharding(self._mesh, P()), NamedSharding(self._mesh, P(None, None, MODEL))
            state = rollout.RolloutState(replicated, replicated, replicated, by_heads, by_heads)
            self._params = jax.device_put(self._params, replicated)
        self._step = jax.jit(functools.partial(_play_step, graphdef), static_argnums=(4, 5, 6, 7),
                             out_shardings=None if state is None else (replicated, state))
        self._start = jax.jit(functools.partial(_start, graphdef), static_argnums=(3,), out_shardings=state)
        self._state = None
        self.frames: list[np.ndarray] = []  # the session so far, prompt frames included
        self.actions: list[int] = []  # actions[i] led from frames[i + k - 1] to frames[i + k]

    @classmethod
    def load(cls, workdir: str | pathlib.Path, **kwargs) -> PlaySession:
        """The world trained in `workdir`, with its eval/action_map.json when there is one."""
        run = load_run(workdir)
        if not run.has("tokenizer", "dynamics"):
            missing = " and ".join(m for m in run.missing if m != "lam")
            raise FileNotFoundError(f"{run.workdir} has no trained {missing}; train it with: "
                                    f"python scripts/train.py --workdir {run.workdir}")
        kwargs.setdefault("action_map", _read_action_map(run.workdir))
        return cls(run.cfg, {name: run.models[name] for name in run.steps}, **kwargs)

    def action_names(self) -> list[str]:
        """A label per latent action, naming the true actions it realises best where known."""
        names = []
        for a in range(self.num_actions):
            bound = [name for name, latent in (self.action_map or {}).items() if latent == a]
            names.append(f"{a}: {'/'.join(bound)}" if bound else str(a))
        return names

    def reset(self, prompt, seed: int | None = None) -> np.ndarray:
        """Starts from a prompt (see read_prompt); returns its last frame at the model's size.
        A prompt of k frames keeps the last C = T-1 and takes the actions between them from the LAM."""
        frames = read_prompt(prompt, self.height, self.width)[-(self.context - 1):]
        video = to_float(frames[None])
        if len(frames) > 1 and "lam" in self.models:
            actions = self.models["lam"].infer_actions(video)
        else:
            actions = jnp.zeros((1, len(frames) - 1), jnp.int32)
        with self._on_mesh():
            self._state = self._start(self._params, video, actions, self.context)
        if seed is not None:
            self.seed = seed
        self._key = jax.random.key(self.seed)
        self.frames, self.actions = list(frames), []
        return self.frames[-1]

    def reset_to_level(self, level: int | None = None) -> np.ndarray:
        """Starts from the first frame of a held-out level of the world's data source (by default
        one drawn from the world's seed): a prompt that needs no file and no dataset."""
        from genie.data.sources import get_source

        frame = get_source(self.cfg.data.source).first_frame(self.cfg, level, self.seed)
        if frame is None:
            raise PromptError(f"the {self.cfg.data.source!r} source has no levels to start from: give a prompt "
                              "image (--prompt) or a clip of the dataset (--clip)")
        return self.reset(frame)

    def reset_from_dataset(self, data_dir=None, split: str = "test", index: int = 0, frames: int = 1) -> np.ndarray:
        """Starts from the first `frames` frames of clip `index` of a dataset split."""
        from genie.data.dataset import check_dataset
        from genie.data.shards import ClipSource

        data_dir = data_dir or self.cfg.data_dir
        check_dataset(self.cfg, data_dir, source_settings=False)
        source = ClipSource(data_dir, split)
        if not 0 <= index < len(source):
            raise PromptError(f"{split} has clips 0..{len(source) - 1}, not {index}")
        return self.reset(source[index]["frames_THWC"][:frames])

    def step(self, action) -> np.ndarray:
        """Generates the next frame under latent action `action`; returns it (uint8 [H, W, 3])."""
        if self._state is None:
            raise RuntimeError("call reset(prompt) before step(action)")
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or \
                not 0 <= action < self.num_actions:
            raise ValueError(f"an action is an integer in 0..{self.num_actions - 1}, got {action!r}")
        key = jax.random.fold_in(self._key, len(self.actions))
        with self._on_mesh():
            frame, self._state = self._step(self._params, self._state, jnp.asarray([action], jnp.int32), key,
                                            self.maskgit_steps, float(self.temperature),
                                            self.cfg.sampling.choice_temperature, self.slide)
        self.frames.append(np.asarray(frame))
        self.actions.append(int(action))
        return self.frames[-1]

    def _on_mesh(self):
        return contextlib.nullcontext() if self._mesh is None else jax.set_mesh(self._mesh)

    def warm_up(self) -> None:
        """Compiles the step function (seconds) by taking one step and undoing it, so that the
        first key a person presses answers at once."""
        state, frames, actions = self._state, list(self.frames), list(self.actions)
        self.step(0)
        self._state, self.frames, self.actions = state, frames, actions

    def save(self, path: str | pathlib.Path, fps: int = 8, scale: int = 4) -> pathlib.Path:
        """The session as a GIF or MP4 (by the suffix), scaled up `scale` times.

        A GIF shows a frame equal to the one before it as a longer showing of that frame (Pillow
        merges them); an MP4 keeps one frame per step.
        """
        import imageio.v3 as iio

        path = pathlib.Path(path)
        if not self.frames:
            raise RuntimeError("nothing to save: call reset(prompt) first")
        video = np.stack(self.frames).repeat(scale, axis=1).repeat(scale, axis=2)
        if path.suffix.lower() == ".gif":
            iio.imwrite(path, video, duration=1000 / fps, loop=0)
        elif path.suffix.lower() == ".mp4":
            iio.imwrite(path, video, fps=fps, codec="libx264", macro_block_size=1)
        else:
            raise ValueError(f"save as .gif or .mp4, not {path.suffix or 'no suffix'}")
        return path


# Measured on 2 cores (scripts/benchmark.py play): split over 2 devices, the bench world
# (width 256) plays 17% faster, the default CPU world (128) as fast, the tiny one (32) at 40%:
# below some width the all-reduces after every attention and feed-forward cost more than the
# halved products save.
SPLIT_FROM_WIDTH = 256


def _auto_devices(cfg: Config) -> int:
    wide = min(getattr(cfg, field).transformer.width for field in _transformers(cfg)) >= SPLIT_FROM_WIDTH
    two = jax.default_backend() == "cpu" and jax.local_device_count() >= 2 and _unsplittable(cfg, 2) is None
    return 2 if wide and two else 1


def _unsplittable(cfg: Config, devices: int) -> str | None:
    """Why the models' heads and feed-forward units cannot be split over `devices`, if so."""
    for field in _transformers(cfg):
        shape = getattr(cfg, field).transformer
        if shape.heads % devices or shape.ffw % devices:
            return (f"{field}: {shape.heads} heads and {shape.ffw} feed-forward units do not split evenly over "
                    f"{devices} devices")
    return None


def _transformers(cfg: Config) -> tuple[str, ...]:
    """The models a play step runs through a transformer (a pixel-code tokenizer has none)."""
    return ("dynamics",) if cfg.tokenizer.quantizer.kind == "pixel" else ("tokenizer", "dynamics")


def _model_mesh(cfg: Config, devices: int) -> jax.sharding.Mesh | None:
    """A mesh of `devices` local devices on the model axis, or None for one device."""
    available = jax.local_devices()
    if not 1 <= devices <= len(available):
        raise ValueError(f"cannot split play over {devices} devices: {len(available)} here "
                         "(on a CPU, genie.cores.split_cpu(n) before JAX starts makes n)")
    if devices == 1:
        return None
    if problem := _unsplittable(cfg, devices):
        raise ValueError(problem)
    return jax.sharding.Mesh(np.array(available[:devices]), (MODEL,), axis_types=(jax.sharding.AxisType.Auto,))


def _read_action_map(workdir: pathlib.Path) -> dict | None:
    path = pathlib.Path(workdir) / "eval" / "action_map.json"
    return json.loads(path.read_text()) if path.is_file() else None
