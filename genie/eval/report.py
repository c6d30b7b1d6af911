"""Writing an evaluation: metrics.json, action_map.json, pictures, plots and report.md."""

from __future__ import annotations

import json
import pathlib

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw

from genie.data.frames import grid, to_uint8
from genie.models import STAGES


def _grid(rows_RCHWC: np.ndarray) -> np.ndarray:
    return grid(rows_RCHWC, gap=2, scale=2)


def _with_labels(image: np.ndarray, labels: list[str], row_height: int, width: int = 150) -> np.ndarray:
    """Adds a white column of one text label per row on the left."""
    canvas = Image.new("RGB", (image.shape[1] + width, image.shape[0]), "white")
    canvas.paste(Image.fromarray(image), (width, 0))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        draw.text((4, i * row_height + row_height // 2 - 6), label, fill="black")
    return np.asarray(canvas)


def action_label(action: int, action_map: dict | None) -> str:
    """'action 3' plus the true actions it realises best, e.g. 'action 3 = right'."""
    names = [name for name, a in (action_map or {}).items() if a == action]
    return f"action {action}" + (f" = {', '.join(names)}" if names else "")


def write_pictures(pictures: dict, out: pathlib.Path, action_map: dict | None) -> dict:
    """Saves the evaluation's pictures; returns name -> file name."""
    files = {}
    if "reconstructions" in pictures:
        video, recon = (to_uint8(np.asarray(x)) for x in pictures["reconstructions"])  # [n, T, H, W, C] each
        rows = np.stack([video, recon], 1).reshape(-1, *video.shape[1:])  # original, reconstruction, ...
        iio.imwrite(out / "reconstructions.png", _grid(rows))
        files["reconstructions"] = "reconstructions.png"
    if "rollouts" in pictures:
        video, inferred, randomised = (to_uint8(np.asarray(x)) for x in pictures["rollouts"])
        k = video.shape[1] - inferred.shape[1]
        pad = lambda gen: np.concatenate([video[:, :k], gen], 1)  # the prompt, then generated frames
        panels = np.stack([video, pad(inferred), pad(randomised)], 2)  # [n, T, 3, H, W, C]
        frames = [_grid(panels[:, t]) for t in range(video.shape[1])]
        iio.imwrite(out / "rollouts.gif", np.stack(frames), duration=250, loop=0)
        files["rollouts"] = "rollouts.gif"
    if "action_grid" in pictures:
        grid = to_uint8(np.asarray(pictures["action_grid"]))  # [P, A, 1 + steps, H, W, C]
        p, a = grid.shape[:2]
        image = _grid(grid.reshape(p * a, *grid.shape[2:]))
        row_height = image.shape[0] // (p * a)
        labels = [action_label(j, action_map) for _ in range(p) for j in range(a)]
        iio.imwrite(out / "action_grid.png", _with_labels(image, labels, row_height + 1))
        files["action_grid"] = "action_grid.png"
    if "long_play" in pictures:
        truth, world, length = pictures["long_play"]  # [P, 1 + S, ...] and [P, S, ...] uint8, [P]
        world = np.concatenate([truth[:, :1], world], 1)
        # Past the end of a real episode both panels go black: nothing there is scored.
        ended = np.arange(truth.shape[1])[None] > np.asarray(length)[:, None]
        world[ended] = 0
        frames = [_grid(np.stack([truth[:, t], world[:, t]])) for t in range(truth.shape[1])]
        iio.imwrite(out / "long_play.gif", np.stack(frames), duration=125, loop=0)
        files["long_play"] = "long_play.gif"
    return files


def write_plots(results: dict, workdir: pathlib.Path, out: pathlib.Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    if "dynamics" in results:
        dyn = results["dynamics"]
        horizons = [int(h) for h in dyn["rollout_psnr"]]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        for key, label in (("rollout_psnr", "LAM actions"), ("random_action_psnr", "random actions"),
                           ("copy_last_frame_psnr", "copy the last frame")):
            left.plot(horizons, list(dyn[key].values()), marker="o", label=label)
        left.set(xlabel="horizon t (frames after the prompt)", ylabel="PSNR (dB)", title="rollouts against the truth")
        left.legend()
        right.bar(horizons, list(dyn["delta_psnr"].values()), color="tab:green")
        right.axhline(0, color="black", linewidth=0.8)
        right.set(xlabel="horizon t", ylabel="ΔtPSNR (dB)", title="controllability: LAM minus random actions")
        fig.tight_layout()
        fig.savefig(out / "rollout_psnr.png", dpi=100)
        plt.close(fig)
        files["rollout_psnr"] = "rollout_psnr.png"
    lam = results.get("lam", {})
    if lam.get("confusion"):
        counts = np.asarray(lam["confusion"], np.float64)
        share = counts / np.maximum(counts.sum(0, keepdims=True), 1)  # each true action's spread over latents
        fig, ax = plt.subplots(figsize=(1.2 * counts.shape[1] + 2, 0.5 * counts.shape[0] + 1.5))
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (i, j), c in np.ndenumerate(counts):
            ax.text(j, i, f"{int(c)}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks(range(counts.shape[1]), lam["true_actions"], rotation=30)
        ax.set_yticks(range(counts.shape[0]), [f"action {i}" for i in range(counts.shape[0])])
        ax.set(xlabel="true action", ylabel="latent action", title="transitions (colour: share of the true action)")
        fig.tight_layout()
        fig.savefig(out / "confusion.png", dpi=100)
        plt.close(fig)
        files["confusion"] = "confusion.png"
    curves = {name: _read_metrics(workdir / name / "metrics.jsonl") for name in STAGES}
    curves = {name: rows for name, rows in curves.items() if rows}
    if curves:
        fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.2), squeeze=False)
        for ax, (name, rows) in zip(axes[0], curves.items()):
            quality = "token_accuracy" if name == "dynamics" else "psnr"
            steps = [r["step"] for r in rows if quality in r]
            ax.plot(steps, [r[quality] for r in rows if quality in r], color="tab:blue")
            ax.set(xlabel="step", ylabel=quality, title=name)
            twin = ax.twinx()
            twin.plot(steps, [r["loss"] for r in rows if quality in r], color="tab:red", alpha=0.5)
            twin.set_ylabel("loss", color="tab:red")
            twin.set_yscale("log")
        fig.tight_layout()
        fig.savefig(out / "training_curves.png", dpi=100)
        plt.close(fig)
        files["training_curves"] = "training_curves.png"
    return files


def _read_metrics(path: pathlib.Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        if "step" in row and "loss" in row:
            rows.append(row)
    return rows


def _f(x, digits=2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def write_report(results: dict, files: dict, out: pathlib.Path) -> None:
    meta = results["meta"]
    lines = [f"# Evaluation of `{meta['workdir']}`", "",
             f"Config `{meta['config']}`, split `{meta['split']}` ({meta['clips']} held-out clips), "
             f"checkpoints at steps {', '.join(f'{k} {v}' for k, v in meta['checkpoint_steps'].items()) or 'none'}; "
             f"{meta['seconds']} s.", ""]
    unfinished = [k for k, done in meta["complete"].items() if not done]
    if meta["missing"]:
        lines += [f"**Not evaluated: no checkpoint of {', '.join(meta['missing'])}.** Train it with "
                  f"`python scripts/train.py --workdir {meta['workdir']}`; what needs it is left out below.", ""]
    if unfinished:
        lines += [f"Stages still training (latest checkpoint used): {', '.join(unfinished)}.", ""]
    tok, lam, dyn = results.get("tokenizer"), results.get("lam"), results.get("dynamics")
    lines += ["| measure | value | what it says |", "|---|---|---|"]
    if tok:
        lines += [f"| tokenizer PSNR / SSIM | {_f(tok['psnr'])} dB / {_f(tok['ssim'], 3)} | how faithfully frames "
                  f"survive tokens |",
                  f"| tokenizer codes used | {tok['codebook_usage']:.0%} (perplexity {tok['codebook_perplexity']:.0f}) "
                  f"| codebook health |"]
    if lam:
        ref = lam.get("reference")
        lines += [f"| LAM NMI / purity | {_f(lam['nmi'])} / {_f(lam['purity'])} | how well latent actions match "
                  f"the true ones (1 = one-to-one" + (f"; an ideal LAM on this data: {_f(ref['nmi'])} / "
                                                      f"{_f(ref['purity'])}" if ref else "") + ") |",
                  f"| latent actions used | {lam['codebook_usage']:.0%} (perplexity {lam['codebook_perplexity']:.1f}) "
                  f"| |"]
        if motion := lam.get("frame_motion"):
            true_dx = f" (true actions, horizontal: {_f(motion['nmi_true_dx'])})" if "nmi_true_dx" in motion else ""
            lines += [f"| LAM NMI with the frame's motion, vertical / horizontal | {_f(motion['nmi_latent_dy'])} / "
                      f"{_f(motion['nmi_latent_dx'])} | what the latent actions follow: the direction of the "
                      f"best whole-frame shift{true_dx} |"]
    if dyn:
        t = "4" if "4" in dyn["rollout_psnr"] else max(dyn["rollout_psnr"], key=int)
        lines += [f"| dynamics token accuracy | {_f(dyn['token_accuracy'], 3)} | next frame, teacher-forced |",
                  f"| rollout PSNR at t={t} | {_f(dyn['rollout_psnr'][t])} dB (copy the last frame: "
                  f"{_f(dyn['copy_last_frame_psnr'][t])}) | better than standing still? |",
                  f"| **ΔtPSNR at t={t}** | **{_f(dyn['delta_psnr'][t])} dB** | controllability: LAM actions minus "
                  f"random ones (Genie: 1.91) |"]
        if held := dyn.get("held_actions"):
            motion = (lam or {}).get("frame_motion")
            on_data = f" (the LAM's on the data: {_f(motion['nmi_latent_dx'])})" if motion else ""
            lines += [f"| held action NMI with the world's horizontal motion | {_f(held['nmi_action_dx'])}{on_data} "
                      f"| does the generated world move the way its actions moved the data? |"]
    lines.append("")
    if tok:
        lines += ["## Tokenizer", "", "Rows: an original clip, then its reconstruction.", "",
                  f"![reconstructions]({files['reconstructions']})", ""]
    if lam:
        lines += ["## Latent actions", ""]
        if lam.get("nmi") is None:
            lines += ["The data has no true actions, so NMI, purity and the action map cannot be measured. "
                      f"Latent action counts: {lam['latent_counts']}.", ""]
        else:
            lines += ["Which latent action each true action becomes (counts of transitions; colour: the share of "
                      "each true action). `action_map.json` binds each true action to the latent action that "
                      "realises it best.", "", f"![confusion]({files['confusion']})", "",
                      "| true action | latent action |", "|---|---|"]
            lines += [f"| {name} | {a} |" for name, a in lam["action_map"].items()]
            lines.append("")
            if ref := lam.get("reference"):
                like = f" ({ref['note']})" if ref.get("note") else ""
                lines += [f"Some actions cannot be told apart from the frames: in {ref['with_twin']:.0%} of the "
                          f"data policy's transitions another action would have given the same next frame{like}. "
                          f"A LAM that tells apart exactly the next frames that differ reaches NMI {_f(ref['nmi'])}, purity {_f(ref['purity'])} on this data "
                          f"({ref['transitions']} transitions simulated with every action).", ""]
    if dyn:
        lines += ["## Dynamics", "",
                  f"Rollouts from {meta['prompt_frames']} true frame(s), {meta['maskgit_steps']} MaskGIT steps, "
                  f"temperature {meta['temperature']}. PSNR against the true frames at each horizon:", "",
                  "| horizon t | " + " | ".join(dyn["rollout_psnr"]) + " |",
                  "|---|" + "---|" * len(dyn["rollout_psnr"])]
        for key, label in (("rollout_psnr", "LAM actions"), ("random_action_psnr", "random actions"),
                           ("delta_psnr", "ΔtPSNR"), ("copy_last_frame_psnr", "copy the last frame")):
            lines.append(f"| {label} | " + " | ".join(_f(v) for v in dyn[key].values()) + " |")
        lines += ["", f"![rollout PSNR]({files['rollout_psnr']})", "",
                  "Rollouts (columns: truth, LAM actions, random actions; one clip per row):", "",
                  f"![rollouts]({files['rollouts']})", "",
                  "What each latent action does: each row holds one action from the prompt in the first column.", "",
                  f"![action grid]({files['action_grid']})", ""]
        if held := dyn.get("held_actions"):
            data = (lam or {}).get("frame_motion", {}).get("mean_shift_by_latent") or [None] * len(held["mean_shift"])
            shift = lambda v: "n/a" if v is None else f"{v[1]:+.2f} / {v[0]:+.2f}"
            lines += [f"Each latent action held {held['steps']} steps from {held['prompts']} prompts: the whole "
                      "frame's mean shift a step (pixels, horizontal / vertical; in a scrolling game, the camera's), "
                      "generated and in the data under that latent action.", "",
                      "| latent action | generated shift | steps that move | data shift |", "|---|---|---|---|"]
            lines += [f"| {action_label(a, (lam or {}).get('action_map'))} | {shift(g)} | {m:.0%} | {shift(d)} |"
                      for a, (g, m, d) in enumerate(zip(held["mean_shift"], held["moving_share"], data))]
            lines.append("")
    if long := (dyn or {}).get("long_play"):
        player, scene = long.get("player"), long.get("scene")
        about_player = (" Player: of the frames in which the real game shows its player, the share in which the "
                        "world shows it, and shows it where the game has it (within "
                        f"{player['near_pixels']:.0f} pixels)." if player else "")
        about_scene = (" Scene: the share of frames within the real range, where a frame stacks no more token pairs "
                       f"unseen in training frames than {scene['quantile']:.0%} of held-out real frames do "
                       f"(<= {scene['limit']:.0f}; {scene['real_unseen_pairs']:.2f} a real frame, "
                       f"{scene['unseen_pairs']:.2f} a frame of the world); the real game's frames under the same "
                       f"actions: {scene['game_within_range']:.0%} within it." if scene else "")
        lines += ["## Long play", "",
                  f"The world played {long['steps']} steps from the first frame of {long['starts']} held-out levels "
                  "under the real game's actions (each mapped to its latent action by `action_map.json`), through "
                  "play's sliding window, against the real game under the same actions (a real episode that ends "
                  f"sooner is scored until its end: {long['frames_scored']} frames in all). Above copying the "
                  f"first frame at {_f(long['share_of_horizons_above_copy'], 2)} of the horizons.{about_player}"
                  f"{about_scene}", "",
                  "| steps | world PSNR | copy the first frame | world SSIM |"
                  + (" player visible | player in place |" if player else "")
                  + (" scene within the real range |" if scene else ""),
                  "|---|---|---|---|" + ("---|---|" if player else "") + ("---|" if scene else "")]
        pct = lambda v: "n/a" if v is None else f"{v:.0%}"
        lines += [f"| {span} | {_f(v)} dB | {_f(long['copy_first_frame_psnr_by_bin'][span])} dB | "
                  f"{_f(long['ssim_by_bin'][span], 3)} |"
                  + (f" {pct(player['visible_by_bin'].get(span))} | {pct(player['in_place_by_bin'].get(span))} |"
                     if player else "")
                  + (f" {pct(scene['within_range_by_bin'].get(span))} |" if scene else "")
                  for span, v in long["psnr_by_bin"].items()]
        lines += ["", "Real game (top) and world (bottom), one level per column:", "",
                  f"![long play]({files['long_play']})", ""]
    if "training_curves" in files:
        lines += ["## Training", "", f"![training curves]({files['training_curves']})", ""]
    (out / "report.md").write_text("\n".join(lines))


def write_evaluation(results: dict, pictures: dict, workdir: pathlib.Path) -> pathlib.Path:
    out = workdir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    action_map = results.get("lam", {}).get("action_map")
    if action_map:
        (out / "action_map.json").write_text(json.dumps(action_map, indent=1))
    files = {**write_pictures(pictures, out, action_map), **write_plots(results, workdir, out)}
    (out / "metrics.json").write_text(json.dumps(results, indent=1))
    write_report(results, files, out)
    return out
