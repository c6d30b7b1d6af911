"""Held-out evaluation of a trained run: every stage that has a checkpoint, on one split.

Tokenizer: PSNR/SSIM of reconstructions, codebook usage. LAM: NMI and purity of the latent
actions against the true ones, a confusion matrix, the best latent action for each true one,
and how much the latent actions say about the whole frame's motion (in a scrolling game, the
camera's).
Dynamics: teacher-forced token accuracy, rollouts from k true frames with the LAM's actions
and with uniformly random ones (same prompts, same sampling keys), their PSNR/SSIM against the
truth at each horizon, ΔtPSNR (Genie's controllability measure) and the copy-the-last-frame
baseline; what holding each latent action does to the whole frame's motion, beside what that
action did in the data (where the dynamics, not the LAM, fails to control the world, this says
so); an action-effect grid and rollout videos for the report.
Long play: where the data's source can play its game, the world stepped for many frames
through play's sliding window from held-out level starts under the real game's actions (mapped
to latent ones by the action map), scored against the real game's frames beside copying the
first frame, with the share of frames showing the player where the game shows it, and the
share whose scene stays within the range of real frames (a count of token pairs that real frames
never stack: metrics.unseen_pairs).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genie.data.dataset import check_dataset
from genie.data.frames import stack_clips, to_float, to_uint8
from genie.data.shards import ClipSource
from genie.data.sources import get_source
from genie.eval import metrics
from genie.runs import TrainedRun
from genie.sample import rollout


def settings(cfg) -> dict:
    """The evaluation and sampling settings an evaluation's figures depend on, beside the checkpoints."""
    return {"split": cfg.eval.split, "prompt_frames": cfg.eval.prompt_frames,
            "maskgit_steps": cfg.sampling.maskgit_steps, "temperature": cfg.sampling.temperature,
            "long_play": [cfg.eval.long_play_starts, cfg.eval.long_play_steps]}


def _batches(source: ClipSource, clips: int, batch_size: int):
    """The first `clips` clips of the split in order, as float video and int actions."""
    for start in range(0, clips, batch_size):
        video, actions = stack_clips([source[i] for i in range(start, min(start + batch_size, clips))])
        yield to_float(video), actions


@nnx.jit
def _reconstruct(tokenizer, video_BTHWC):
    recon, tokens, _, _ = tokenizer(video_BTHWC)
    return metrics.psnr(recon, video_BTHWC), metrics.ssim(recon, video_BTHWC), tokens, recon


@nnx.jit
def _encode_frames(tokenizer, frames_NHWC):
    return tokenizer.encode(to_float(frames_NHWC)[:, None])[:, 0]


@nnx.jit
def _infer_actions(lam, video_BTHWC):
    return lam.infer_actions(video_BTHWC)


@nnx.jit
def _teacher_forced_accuracy(tokenizer, dynamics, video_BTHWC, actions_BTm1):
    """Per clip: accuracy of the argmax tokens of each frame t+1 predicted with all of its
    tokens masked and the true frames 0..t given."""
    tokens = tokenizer.encode(video_BTHWC)
    b, t, n = tokens.shape
    _, cache = dynamics.prefill(tokens[:, :-1], actions_BTm1[:, :-1])
    blank = jnp.full((b, n), dynamics.mask_id, jnp.int32)
    hits = [jnp.argmax(dynamics.step(blank, actions_BTm1[:, s - 1], cache, s)[0], -1) == tokens[:, s]
            for s in range(1, t)]
    return jnp.mean(jnp.stack(hits, 1), axis=(1, 2))


@jax.jit
def _frame_scores(generated_BhHWC, truth_BhHWC):
    return metrics.psnr(generated_BhHWC, truth_BhHWC), metrics.ssim(generated_BhHWC, truth_BhHWC)


def rollout_scores(generate, video_BTHWC, actions_BTm1, random_actions_BTm1, k: int):
    """Rollouts from the first k true frames, with the given actions and with random ones
    after the prompt (the prompt's own k-1 actions stay), scored against the truth.

    `generate(prompt_BkHWC, actions_BTm1)` returns the T-k frames after the prompt, frame k+i
    generated with action k-1+i. Returns ({"inferred"|"random"|"copy": (psnr_Bh, ssim_Bh)},
    (inferred frames, random-action frames)); "copy" repeats the last prompt frame.
    """
    random_actions = actions_BTm1.at[:, k - 1:].set(random_actions_BTm1[:, k - 1:])
    truth = video_BTHWC[:, k:]
    inferred = generate(video_BTHWC[:, :k], actions_BTm1)
    randomised = generate(video_BTHWC[:, :k], random_actions)
    copy = jnp.broadcast_to(video_BTHWC[:, k - 1:k], truth.shape)
    scores = {name: tuple(np.asarray(x) for x in _frame_scores(frames, truth))
              for name, frames in (("inferred", inferred), ("random", randomised), ("copy", copy))}
    return scores, (inferred, randomised)


def rollout_results(scores: list[dict]) -> dict:
    """metrics.json's rollout entries from the scores of every batch: means per horizon
    (keys "1".."T-k"), ΔtPSNR = PSNR with the given actions minus PSNR with random ones."""
    mean = lambda name, which: np.concatenate([s[name][which] for s in scores]).mean(0)
    by_horizon = lambda values: {str(h + 1): float(v) for h, v in enumerate(values)}
    delta = mean("inferred", 0) - mean("random", 0)
    return {
        "rollout_psnr": by_horizon(mean("inferred", 0)),
        "rollout_ssim": by_horizon(mean("inferred", 1)),
        "random_action_psnr": by_horizon(mean("random", 0)),
        "random_action_ssim": by_horizon(mean("random", 1)),
        "delta_psnr": by_horizon(delta),
        "delta_psnr_t4": float(delta[3]) if len(delta) >= 4 else None,
        "copy_last_frame_psnr": by_horizon(mean("copy", 0)),
        "copy_last_frame_ssim": by_horizon(mean("copy", 1)),
    }


LONG_PLAY_BIN = 16  # horizons summarised together in long play


def _bins(steps: int) -> dict:
    """Long play's horizons in bins of LONG_PLAY_BIN: "1-16" -> slice(0, 16), ..."""
    return {f"{a + 1}-{min(a + LONG_PLAY_BIN, steps)}": slice(a, a + LONG_PLAY_BIN)
            for a in range(0, steps, LONG_PLAY_BIN)}


def _scored_PS(length_P, steps: int) -> np.ndarray:
    """Which of long play's `steps` horizons each start scores: those its real episode lasted."""
    return np.arange(steps)[None] < np.asarray(length_P)[:, None]


def long_play_results(world_PSHWC, truth_PSHWC, first_PHWC, length_P) -> dict:
    """Long play's scores: the world's frames after the first against the real game's, and the
    first frame copied against them, per horizon (averaged over the starts whose real episode
    lasted that long: `length_P` frames after the first) and per bin of LONG_PLAY_BIN horizons."""
    p, s = world_PSHWC.shape[:2]
    valid_PS = _scored_PS(length_P, s)
    first = jnp.broadcast_to(jnp.asarray(first_PHWC)[:, None], truth_PSHWC.shape)
    psnr, ssim = _frame_scores(world_PSHWC, truth_PSHWC)
    scores = {"psnr": psnr, "ssim": ssim, "copy_first_frame_psnr": _frame_scores(first, truth_PSHWC)[0]}
    out = {"starts": p, "steps": s, "frames_scored": int(valid_PS.sum())}
    for name, values_PS in scores.items():
        values_PS = np.where(valid_PS, np.asarray(values_PS), np.nan)
        with np.errstate(invalid="ignore"):
            out[name] = {str(t + 1): (None if not valid_PS[:, t].any() else float(np.nanmean(values_PS[:, t])))
                         for t in range(s)}
            out[f"{name}_by_bin"] = {span: float(np.nanmean(values_PS[:, b]))
                                     for span, b in _bins(s).items() if valid_PS[:, b].any()}
    beats = [out["psnr"][t] > out["copy_first_frame_psnr"][t] for t in out["psnr"] if out["psnr"][t] is not None]
    out["share_of_horizons_above_copy"] = float(np.mean(beats)) if beats else None
    return out


def player_results(truth_present_PS, truth_yx_PS2, world_present_PS, world_yx_PS2, length_P, near: float) -> dict:
    """Object permanence in long play: of the frames in which the real game shows its player (in
    the first `length_P` of each start, as long_play_results), the share in which the world shows
    it too ("visible"), and shows it within `near` pixels of where the game has it ("in_place");
    overall and per bin of LONG_PLAY_BIN horizons."""
    valid_PS = _scored_PS(length_P, np.shape(truth_present_PS)[1])
    shown_PS = np.asarray(truth_present_PS) & valid_PS
    visible_PS = np.asarray(world_present_PS) & shown_PS
    with np.errstate(invalid="ignore"):
        distance_PS = np.linalg.norm(np.asarray(world_yx_PS2) - np.asarray(truth_yx_PS2), axis=-1)
    in_place_PS = visible_PS & (distance_PS <= near)
    share = lambda hits, span: float(hits[:, span].sum() / shown_PS[:, span].sum()) if shown_PS[:, span].any() else None
    bins = _bins(shown_PS.shape[1])
    return {"frames_showing_player": int(shown_PS.sum()), "near_pixels": near,
            "visible": share(visible_PS, slice(None)), "in_place": share(in_place_PS, slice(None)),
            "visible_by_bin": {k: share(visible_PS, v) for k, v in bins.items()},
            "in_place_by_bin": {k: share(in_place_PS, v) for k, v in bins.items()}}


SCENE_QUANTILE = 0.95  # a scene is within the real frames' range up to this quantile of theirs


def scene_results(world_PS, game_PS, real_F, length_P) -> dict:
    """The scene staying a scene in long play, from each frame's count of unseen token pairs
    (metrics.unseen_pairs): the world's frames and the real game's under the same actions (in the
    first `length_P` of each start, as long_play_results), and held-out real frames, whose
    SCENE_QUANTILE quantile is the limit of the real range. The shares of the world's and the
    game's frames within it, overall and per bin of LONG_PLAY_BIN horizons."""
    world_PS, game_PS = np.asarray(world_PS), np.asarray(game_PS)
    valid_PS = _scored_PS(length_P, world_PS.shape[1])
    limit = float(np.quantile(np.asarray(real_F), SCENE_QUANTILE))
    within = lambda counts_PS, span=slice(None): float((counts_PS[:, span] <= limit)[valid_PS[:, span]].mean())
    return {"quantile": SCENE_QUANTILE, "limit": limit, "real_frames": int(np.size(real_F)),
            "real_unseen_pairs": float(np.mean(real_F)),
            "unseen_pairs": float(world_PS[valid_PS].mean()), "game_unseen_pairs": float(game_PS[valid_PS].mean()),
            "within_range": within(world_PS), "game_within_range": within(game_PS),
            "within_range_by_bin": {span: within(world_PS, b) for span, b in _bins(world_PS.shape[1]).items()
                                    if valid_PS[:, b].any()}}


def _motion_nmi(actions_M, shifts_M2, num_actions: int) -> tuple[float, float]:
    """NMI of actions with the direction of the whole frame's vertical and horizontal shift."""
    sign_M2 = np.sign(shifts_M2) + 1  # 0, 1, 2: up/left, still, down/right
    return tuple(metrics.nmi(metrics.contingency(actions_M, sign_M2[:, i], num_actions, 3)) for i in (0, 1))


def _mean_shift_by_action(actions_M, shifts_M2, num_actions: int) -> list:
    """[A][dy, dx]: the mean whole-frame shift (pixels a step) under each action; None where unused."""
    return [np.round(shifts_M2[actions_M == a].mean(0), 3).tolist() if (actions_M == a).any() else None
            for a in range(num_actions)]


def _frame_motion(latent, true, known, shifts_M2, num_actions: int, num_true: int) -> dict:
    """How much the latent (and the true) actions say about the direction of the whole frame's
    motion (metrics.frame_shifts), and its mean under each latent action."""
    nmi_dy, nmi_dx = _motion_nmi(latent, shifts_M2, num_actions)
    out = {"nmi_latent_dy": nmi_dy, "nmi_latent_dx": nmi_dx,
           "mean_shift_by_latent": _mean_shift_by_action(latent, shifts_M2, num_actions)}
    if num_true and known.any():
        out["nmi_true_dx"] = _motion_nmi(true[known], shifts_M2[known], num_true)[1]
    return out


def held_action_motion(shifts_PAS2: np.ndarray) -> dict:
    """How the generated world moves with each latent action held: the whole-frame shifts of
    frames generated from P prompts with each of A actions held S steps ([P, A, S, 2]). Mean
    shift and share of steps that move at all, per action; NMI of the held action with the
    direction of the motion (read beside the LAM's NMI with it on the data: what the dynamics
    keeps of the control the LAM found)."""
    p, a, s, _ = shifts_PAS2.shape
    actions_M = np.broadcast_to(np.arange(a)[None, :, None], (p, a, s)).ravel()
    shifts_M2 = np.asarray(shifts_PAS2).reshape(-1, 2)
    nmi_dy, nmi_dx = _motion_nmi(actions_M, shifts_M2, a)
    return {"mean_shift": _mean_shift_by_action(actions_M, shifts_M2, a),
            "moving_share": np.round(np.any(shifts_PAS2 != 0, axis=-1).mean(axis=(0, 2)), 3).tolist(),
            "nmi_action_dy": nmi_dy, "nmi_action_dx": nmi_dx, "prompts": p, "steps": s}


def lam_results(latent, true, num_actions: int, action_names: list[str], shifts=None) -> dict:
    """Latent-action metrics; NMI, purity, the confusion counts and the action map only where
    the data has true actions (action_names non-empty, true >= 0); with `shifts` (one (dy, dx)
    per transition), what the actions say about the whole frame's motion."""
    latent, true = np.asarray(latent).ravel(), np.asarray(true).ravel()
    codes = metrics.codebook_stats(latent, num_actions)
    out = {"codebook_usage": codes["usage"], "codebook_perplexity": codes["perplexity"],
           "latent_counts": np.bincount(latent, minlength=num_actions).tolist()}
    known = true >= 0
    if shifts is not None:
        out["frame_motion"] = _frame_motion(latent, true, known, np.asarray(shifts).reshape(-1, 2), num_actions,
                                            len(action_names))
    if not action_names or not known.any():
        return {**out, "nmi": None, "purity": None, "note": "the data has no true actions"}
    counts = metrics.contingency(latent[known], true[known], num_actions, len(action_names))
    best = metrics.best_latent_for_each_class(counts)
    return {**out, "nmi": metrics.nmi(counts), "purity": metrics.purity(counts), "true_actions": action_names,
            "confusion": counts.tolist(), "action_map": {name: best[j] for j, name in enumerate(action_names)}}


def identifiability_reference(probe: dict, num_true: int) -> dict:
    """From a source's identifiability probe: the share of transitions whose action has a twin
    (another action with the same next frame), and the NMI and purity of the true actions against
    the labelling by outcome set."""
    kinds, labels = np.unique(probe["outcome_M"], return_inverse=True)
    counts = metrics.contingency(labels, probe["true_M"], len(kinds), num_true)
    twins = np.array([int(s).bit_count() > 1 for s in probe["outcome_M"]])
    return {"transitions": len(labels), "with_twin": float(twins.mean()), "nmi": metrics.nmi(counts),
            "purity": metrics.purity(counts), "outcome_sets": len(kinds), "note": probe.get("note", "")}


class Evaluation:
    """The metrics of one run over the evaluated clips: `evaluate()` returns metrics.json's content
    and leaves the pictures for the report in `pictures`."""

    def __init__(self, run: TrainedRun, data_dir):
        self.run, self.cfg = run, run.cfg
        check_dataset(self.cfg, data_dir, source_settings=False)  # any dataset of the frames the models take
        self.data_dir, self.source = data_dir, ClipSource(data_dir, self.cfg.eval.split)
        manifest = self.source.manifest
        self.has_actions = bool(manifest.get("has_actions"))
        self.data_source = get_source(manifest.get("source", "platformer"))
        self.action_names = list(manifest.get("action_names") or [])
        self.clips = min(self.cfg.eval.clips, len(self.source))
        self.maskgit_steps = settings(self.cfg)["maskgit_steps"]
        self.rollout_key, self.grid_key = jax.random.split(jax.random.key(self.cfg.seed))
        self.pictures = {}  # name -> uint8 arrays for the report

    def evaluate(self) -> dict:
        start = time.time()
        run, models = self.run, self.run.models
        out = {}
        acc = {name: [] for name in ("psnr", "ssim", "tokens", "latent", "true", "shifts", "token_accuracy",
                                     "rollouts")}
        for i, (video, true_actions) in enumerate(_batches(self.source, self.clips, self.cfg.eval.batch_size)):
            if run.has("tokenizer"):
                psnr, ssim, tokens, recon = _reconstruct(models["tokenizer"], video)
                acc["psnr"].append(psnr)
                acc["ssim"].append(ssim)
                acc["tokens"].append(np.asarray(tokens))
                if i == 0:
                    self.pictures["reconstructions"] = (np.asarray(video[:4]), np.asarray(recon[:4]))
            if run.has("lam"):
                latent = _infer_actions(models["lam"], video)
                acc["latent"].append(np.asarray(latent))
                acc["true"].append(true_actions)
                acc["shifts"].append(metrics.frame_shifts(video))
            if run.has("tokenizer", "lam", "dynamics"):
                acc["token_accuracy"].append(
                    _teacher_forced_accuracy(models["tokenizer"], models["dynamics"], video, latent))
                acc["rollouts"].append(self._rollouts(video, latent, jax.random.fold_in(self.rollout_key, i),
                                                      first=i == 0))
        if run.has("tokenizer"):
            codes = metrics.codebook_stats(np.concatenate(acc["tokens"]), self.cfg.tokenizer.quantizer.num_codes)
            out["tokenizer"] = {"psnr": float(np.mean(np.concatenate(acc["psnr"]))),
                                "ssim": float(np.mean(np.concatenate(acc["ssim"]))),
                                "codebook_usage": codes["usage"], "codebook_perplexity": codes["perplexity"]}
        if run.has("lam"):
            out["lam"] = lam_results(np.concatenate(acc["latent"]), np.concatenate(acc["true"]),
                                     self.cfg.lam.num_actions, self.action_names if self.has_actions else [],
                                     np.concatenate(acc["shifts"]))
            probe = self.data_source.identifiability(self.cfg) if self.has_actions else None
            if probe is not None:  # what an ideal LAM would reach on this data, to read the NMI against
                out["lam"]["reference"] = identifiability_reference(probe, len(self.action_names))
        if run.has("tokenizer", "lam", "dynamics"):
            out["dynamics"] = {"token_accuracy": float(np.mean(np.concatenate(acc["token_accuracy"]))),
                               **rollout_results(acc["rollouts"])}
            frames = self._held_actions()
            out["dynamics"]["held_actions"] = held_action_motion(
                metrics.frame_shifts(frames.reshape(-1, *frames.shape[2:])).reshape(*frames.shape[:2], -1, 2))
            rows = np.linspace(0, len(frames) - 1, min(self.cfg.eval.grid_prompts, len(frames))).astype(int)
            self.pictures["action_grid"] = frames[rows]
            if self.has_actions and out.get("lam", {}).get("action_map") and self.cfg.eval.long_play_starts:
                if (long_play := self._long_play(out["lam"]["action_map"])) is not None:
                    out["dynamics"]["long_play"] = long_play
        out["meta"] = self._meta(time.time() - start)
        return out

    def _rollouts(self, video, latent, key, first: bool) -> dict:
        cfg = self.cfg
        sampling = cfg.sampling
        generate = lambda prompt, actions: rollout.generate(
            self.run.models["tokenizer"], self.run.models["dynamics"], prompt, actions, key, self.maskgit_steps,
            sampling.temperature, sampling.choice_temperature, video.shape[1])
        random_actions = jax.random.randint(jax.random.fold_in(key, 1), latent.shape, 0, cfg.lam.num_actions)
        scores, (inferred, randomised) = rollout_scores(generate, video, latent, random_actions,
                                                        cfg.eval.prompt_frames)
        if first:
            self.pictures["rollouts"] = (np.asarray(video[:4]), np.asarray(inferred[:4]), np.asarray(randomised[:4]))
        return scores

    def _held_actions(self) -> np.ndarray:
        """Each latent action held for grid_steps from max(grid_prompts, held_prompts) prompts:
        [P, A, 1 + steps, H, W, C], column 0 the last prompt frame."""
        cfg, ev = self.cfg, self.cfg.eval
        k, a = ev.prompt_frames, cfg.lam.num_actions
        p = min(max(ev.grid_prompts, ev.held_prompts), len(self.source))
        # Prompts far apart in the split, so different levels and places show.
        picks = np.linspace(0, len(self.source) - 1, p).astype(int)
        video = to_float(stack_clips([self.source[int(i)] for i in picks], slice(None, k))[0])
        prompts = jnp.repeat(video, a, axis=0)  # [P*A, k, ...]
        prompt_actions = jnp.repeat(_infer_actions(self.run.models["lam"], video) if k > 1 else
                                    jnp.zeros((p, 0), jnp.int32), a, axis=0)[:, :k - 1]
        held = jnp.tile(jnp.arange(a, dtype=jnp.int32), p)[:, None].repeat(ev.grid_steps, axis=1)
        sampling = cfg.sampling
        frames = rollout.generate(self.run.models["tokenizer"], self.run.models["dynamics"], prompts,
                                  jnp.concatenate([prompt_actions, held], axis=1), self.grid_key,
                                  self.maskgit_steps, sampling.temperature, sampling.choice_temperature, cfg.data.clip_length)
        frames = jnp.concatenate([prompts[:, -1:], frames], axis=1)
        return np.asarray(frames).reshape(p, a, *frames.shape[1:])

    def _long_play(self, action_map: dict) -> dict | None:
        """The world beside the real game from eval.long_play_starts held-out level starts, for
        eval.long_play_steps steps under the game's actions; None where the source has no game."""
        cfg, ev = self.cfg, self.cfg.eval
        low, high = getattr(cfg.data, f"{ev.split}_seeds")
        levels = low + np.random.default_rng(cfg.seed).choice(high - low, min(ev.long_play_starts, high - low),
                                                              replace=False)
        plays = [self.data_source.play_level(cfg, int(level), ev.long_play_steps, cfg.seed + i)
                 for i, level in enumerate(levels)]
        if any(play is None for play in plays):
            return None
        p, s = len(plays), ev.long_play_steps
        truth = np.zeros((p, s + 1, cfg.data.height, cfg.data.width, 3), np.uint8)
        latent = np.zeros((p, s), np.int32)  # after an episode's end: action 0, not scored
        length = np.array([len(play["actions_Tm1"]) for play in plays])
        for i, play in enumerate(plays):
            truth[i, :length[i] + 1] = play["frames_THWC"]
            latent[i, :length[i]] = [action_map[self.action_names[a]] for a in play["actions_Tm1"]]
        sampling, video = cfg.sampling, to_float(truth)
        world = rollout.generate(self.run.models["tokenizer"], self.run.models["dynamics"], video[:, :1],
                                 jnp.asarray(latent), jax.random.fold_in(self.grid_key, 1), self.maskgit_steps,
                                 sampling.temperature, sampling.choice_temperature, cfg.data.clip_length,
                                 slide=rollout.default_slide(cfg.data.clip_length))
        world_uint8 = to_uint8(np.asarray(world))
        self.pictures["long_play"] = (truth, world_uint8, length)
        out = {**long_play_results(world, video[:, 1:], video[:, 0], length), "levels": levels.tolist()}
        found = [self.data_source.find_player(cfg, frames.reshape(-1, *frames.shape[2:]))
                 for frames in (truth[:, 1:], world_uint8)]
        if found[0] is not None:
            (shown, where, near), (drawn, drawn_where, _) = [(a.reshape(p, s), b.reshape(p, s, 2), n)
                                                             for a, b, n in found]
            out["player"] = player_results(shown, where, drawn, drawn_where, length, near)
        out["scene"] = self._scene(truth[:, 1:], world_uint8, length)
        return out

    def _scene(self, game_PSHWC, world_PSHWC, length_P) -> dict:
        """scene_results: the token pairs real frames stack from eval.scene_clips training clips,
        the real range from the evaluated clips."""
        train, k = ClipSource(self.data_dir, "train"), self.cfg.tokenizer.quantizer.num_codes
        seen = np.unique(metrics.vertical_token_pairs(self._clip_tokens(train, min(self.cfg.eval.scene_clips,
                                                                                      len(train))), k))
        count = lambda frames: metrics.unseen_pairs(self._frame_tokens(frames.reshape(-1, *frames.shape[2:])),
                                                    seen, k).reshape(frames.shape[:2])
        return scene_results(count(world_PSHWC), count(game_PSHWC),
                             metrics.unseen_pairs(self._clip_tokens(self.source, self.clips), seen, k), length_P)

    def _clip_tokens(self, source: ClipSource, clips: int) -> np.ndarray:
        """The tokens of every frame of the first `clips` clips of `source`: [F, rows, columns]."""
        batch = self.cfg.eval.batch_size
        return np.concatenate([self._frame_tokens(np.concatenate([source[i]["frames_THWC"] for i in
                                                                  range(a, min(a + batch, clips))]))
                               for a in range(0, clips, batch)])

    def _frame_tokens(self, frames_NHWC) -> np.ndarray:
        """The tokens of uint8 frames, each encoded alone (as a clip's first frame): [N, rows, columns]."""
        cfg = self.cfg
        step, patch = cfg.eval.batch_size * cfg.data.clip_length, cfg.tokenizer.patch_size
        tokens = [np.asarray(_encode_frames(self.run.models["tokenizer"], frames_NHWC[a:a + step]))
                  for a in range(0, len(frames_NHWC), step)]
        return np.concatenate(tokens).reshape(len(frames_NHWC), cfg.data.height // patch, cfg.data.width // patch)

    def _meta(self, seconds: float) -> dict:
        cfg, run = self.cfg, self.run
        return {"config": cfg.name, "workdir": str(run.workdir), "checkpoint_steps": run.steps,
                "complete": run.complete, "missing": run.missing, **settings(cfg), "clips": self.clips,
                "has_true_actions": self.has_actions, "seconds": round(seconds, 1)}


def evaluate_run(run: TrainedRun, log=print) -> dict:
    """Evaluates `run` on cfg.eval.split and writes everything into <workdir>/eval/."""
    from genie.eval.report import write_evaluation

    evaluation = Evaluation(run, run.cfg.data_dir)
    log(f"eval: {evaluation.clips} clips of {run.cfg.eval.split}, stages with checkpoints: "
        f"{', '.join(run.steps) or 'none'}")
    results = evaluation.evaluate()
    out = write_evaluation(results, evaluation.pictures, run.workdir)
    log(f"eval: {results['meta']['seconds']} s; report in {out / 'report.md'}")
    return results
