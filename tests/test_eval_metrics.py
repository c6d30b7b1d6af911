"""Evaluation metrics on cases with known answers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genie.eval import metrics
from genie.eval.evaluate import (
    held_action_motion,
    lam_results,
    long_play_results,
    rollout_results,
    rollout_scores,
    scene_results,
)


def test_psnr_matches_hand_computed_values():
    a = np.zeros((2, 4, 4, 3), np.float32)
    b = a.copy()
    b[0] += 0.1  # MSE 0.01 -> 20 dB
    b[1, :2] = 1.0  # half the pixels off by 1 -> MSE 0.5 -> 3.0103 dB
    np.testing.assert_allclose(metrics.psnr(a, b), [20.0, 10 * math.log10(2)], rtol=1e-5)


def _ssim_reference(x, y):
    """SSIM of one single-channel image by explicit 11x11 Gaussian windows (no convolution)."""
    g = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cov = (w * (px - mx) * (py - my)).sum()
            values.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return np.mean(values)


def test_ssim_matches_a_direct_reference_and_known_cases():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 16, 16, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype(np.float32)
    expected = [np.mean([_ssim_reference(x[b, ..., c], y[b, ..., c]) for c in range(3)]) for b in range(2)]
    np.testing.assert_allclose(metrics.ssim(x, y), expected, rtol=1e-4)
    np.testing.assert_allclose(metrics.ssim(x, x), [1.0, 1.0], rtol=1e-6)
    # Flat images: only the luminance term is left, (2ab + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 0.2, 0.6, 0.01**2
    flat = metrics.ssim(np.full((1, 16, 16, 3), a), np.full((1, 16, 16, 3), b))
    np.testing.assert_allclose(flat, [(2 * a * b + c1) / (a * a + b * b + c1)], rtol=1e-5)
    assert float(metrics.ssim(x[:1], 1 - x[:1])[0]) < 0  # inverted structure


def test_nmi_and_purity_on_known_labelings():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 1000)
    renamed = (labels + 1) % 4
    same = metrics.contingency(renamed, labels, 4, 4)
    assert metrics.nmi(same) == pytest.approx(1.0) and metrics.purity(same) == 1.0
    # Independent labelings: a product table has zero mutual information.
    independent = np.outer([10, 20, 30], [5, 5, 10, 20])
    assert metrics.nmi(independent) == pytest.approx(0.0, abs=1e-12)
    assert metrics.purity(independent) == pytest.approx(20 / 40)
    # Hand-computed: clusters {a,a,b}, {b,b}: purity 4/5; NMI from the entropies below.
    table = np.array([[2, 1], [0, 2]])
    p = table / 5
    h = lambda q: -sum(v * math.log(v) for v in q if v > 0)
    mi = h(p.sum(1)) + h(p.sum(0)) - h(p.ravel())
    assert metrics.purity(table) == pytest.approx(0.8)
    assert metrics.nmi(table) == pytest.approx(mi / ((h(p.sum(1)) + h(p.sum(0))) / 2))
    # More clusters than classes, each pure: purity 1 but NMI below 1 (the split costs information).
    split = metrics.contingency(np.arange(1000) % 8, (np.arange(1000) % 8) // 2, 8, 4)
    assert metrics.purity(split) == 1.0 and 0.5 < metrics.nmi(split) < 1.0


def test_action_map_and_codebook_stats():
    # Latent 0 is everywhere (it should not win every class); latent 2 is mostly class 1.
    counts = np.array([[30, 30, 30], [20, 0, 0], [0, 25, 2], [0, 0, 15]])
    assert metrics.best_latent_for_each_class(counts) == [1, 2, 3]
    stats = metrics.codebook_stats(np.array([0, 0, 1, 1]), 4)
    assert stats["usage"] == 0.5 and stats["perplexity"] == pytest.approx(2.0)


def test_lam_results_with_and_without_true_actions():
    true = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    latent = (true + 1) % 3
    out = lam_results(latent, true, 3, ["a", "b", "c"])
    assert out["nmi"] == pytest.approx(1.0) and out["purity"] == 1.0
    assert out["action_map"] == {"a": 1, "b": 2, "c": 0}
    none = lam_results(latent, np.full_like(true, -1), 3, [])
    assert none["nmi"] is None and "no true actions" in none["note"] and "action_map" not in none


def test_frame_shifts_find_the_camera_motion():
    """A 64x64 view moving over a larger random scene: each transition's shift is the camera's."""
    rng = np.random.default_rng(0)
    scene = rng.random((96, 96, 3)).astype(np.float32)
    camera_T2 = np.array([[10, 10], [10, 13], [12, 13], [12, 13], [8, 12], [8, 16]])
    video = np.stack([scene[y:y + 64, x:x + 64] for y, x in camera_T2])[None]
    shifts = metrics.frame_shifts(video, radius=4)
    assert shifts.shape == (1, 5, 2)
    np.testing.assert_array_equal(shifts[0], np.diff(camera_T2, axis=0))  # frame t+1 at p = frame t at p + shift
    plain = np.full((1, 3, 16, 16, 3), 0.5, np.float32)  # every shift fits a plain frame: the smallest wins
    np.testing.assert_array_equal(metrics.frame_shifts(plain), np.zeros((1, 2, 2)))


def test_lam_results_say_what_the_latent_actions_follow():
    rng = np.random.default_rng(0)
    shifts = rng.integers(-3, 4, (200, 2))
    latent = np.sign(shifts[:, 1]) + 1  # latent actions that are the horizontal direction
    true = np.where(rng.random(200) < 0.5, latent, rng.integers(0, 3, 200))  # half of the time
    out = lam_results(latent, true, 3, ["a", "b", "c"], shifts)["frame_motion"]
    assert out["nmi_latent_dx"] == pytest.approx(1.0) and out["nmi_latent_dy"] < 0.05
    assert 0.1 < out["nmi_true_dx"] < 0.9
    assert "nmi_true_dx" not in lam_results(latent, np.full(200, -1), 3, [], shifts)["frame_motion"]


def test_held_action_motion_tells_a_world_that_follows_its_actions_from_one_that_does_not():
    rng = np.random.default_rng(0)
    p, a, s = 8, 3, 6
    follows = np.zeros((p, a, s, 2), int)
    follows[:, 0, :, 1], follows[:, 2, :, 1] = 3, -3  # action 0 scrolls one way, 2 the other, 1 stands
    follows[..., 0] = rng.integers(-2, 3, (p, a, s))  # vertical motion that no action sets
    out = held_action_motion(follows)
    assert out["nmi_action_dx"] == pytest.approx(1.0) and out["nmi_action_dy"] < 0.2
    assert [m[1] for m in out["mean_shift"]] == [3, 0, -3]
    assert out["moving_share"][0] == out["moving_share"][2] == 1.0 and out["moving_share"][1] < 1.0
    assert (out["prompts"], out["steps"]) == (p, s)
    ignores = np.broadcast_to(rng.choice([-3, 0, 3], (p, 1, s, 1)) * np.array([0, 1]), (p, a, s, 2))
    out = held_action_motion(ignores)  # every action does the same, whatever it is
    assert out["nmi_action_dx"] == pytest.approx(0.0, abs=1e-9)
    assert out["mean_shift"][0] == out["mean_shift"][1] == out["mean_shift"][2]


def _oracle_world(uses_action: bool):
    """A world of a bright 4x4 square on 16x16 frames: each action moves it one way (or, when
    the world ignores actions, it always moves right)."""
    moves = np.array([[0, 0], [0, -2], [0, 2], [-2, 0]])

    def frames(start_B2, actions_BM):
        pos, out = np.array(start_B2), []
        for t in range(actions_BM.shape[1]):
            step = moves[np.asarray(actions_BM[:, t])] if uses_action else np.array([[0, 2]])
            pos = np.clip(pos + step, 0, 12)
            out.append(pos.copy())
        return np.stack(out, 1)  # [B, M, 2]

    def render(pos_BM2):
        img = np.zeros((*pos_BM2.shape[:2], 16, 16, 3), np.float32)
        for b, t in np.ndindex(*pos_BM2.shape[:2]):
            y, x = pos_BM2[b, t]
            img[b, t, y:y + 4, x:x + 4] = 1.0
        return jnp.asarray(img)

    return frames, render


@pytest.mark.parametrize("uses_action", [True, False])
def test_delta_psnr_is_positive_only_for_a_world_that_follows_its_actions(uses_action):
    frames, render = _oracle_world(uses_action)
    rng = np.random.default_rng(0)
    b, t, k = 16, 8, 2
    start = np.full((b, 2), 6)
    actions = rng.integers(0, 4, (b, t - 1))
    video = render(np.concatenate([start[:, None], frames(start, actions)], 1))

    def generate(prompt_BkHWC, actions_BTm1):
        assert prompt_BkHWC.shape[1] == k
        # The oracle reads where the prompt left the square and plays the actions after it.
        last = np.array([np.argwhere(np.asarray(p[-1, ..., 0]) > 0)[0] for p in prompt_BkHWC])
        return render(frames(last, np.asarray(actions_BTm1)[:, k - 1:]))

    scores, (inferred, _) = rollout_scores(generate, video, jnp.asarray(actions),
                                           jax.random.randint(jax.random.key(1), actions.shape, 0, 4), k)
    results = rollout_results([scores])
    np.testing.assert_array_equal(inferred, video[:, k:])  # the true actions reproduce the clip
    assert list(results["rollout_psnr"]) == [str(h) for h in range(1, t - k + 1)]
    assert results["rollout_psnr"]["1"] == pytest.approx(100.0)  # exact: capped at MSE 1e-10
    if uses_action:
        assert results["delta_psnr_t4"] > 10
        assert all(d > 0 for d in results["delta_psnr"].values())
    else:
        assert results["delta_psnr_t4"] == pytest.approx(0.0)
    copy = results["copy_last_frame_psnr"]
    assert all(c < 100.0 for c in copy.values())  # the square moves, so standing still is worse


def test_long_play_scores_a_copy_of_the_truth_perfectly_and_noise_at_the_bottom():
    """Four starts of 20 steps, a moving square on grey; the second start's real episode ended
    after 5 steps, so only its first 5 frames count."""
    rng = np.random.default_rng(0)
    p, s = 4, 20
    video = np.full((p, s + 1, 16, 16, 3), 0.5, np.float32)
    for t in range(s + 1):  # a square at a new place in every frame
        row, col = 2 + 6 * (t // 12), t % 12
        video[:, t, row:row + 4, col:col + 4] = 1.0
    length = np.array([s, 5, s, s])
    first, truth = video[:, 0], video[:, 1:]
    perfect = long_play_results(truth, truth, first, length)
    noise = long_play_results(rng.random(truth.shape, np.float32), truth, first, length)
    assert perfect["frames_scored"] == 3 * s + 5 and perfect["starts"] == p and perfect["steps"] == s
    assert all(v == pytest.approx(100.0) for v in perfect["psnr"].values())  # PSNR's cap: no error
    assert perfect["share_of_horizons_above_copy"] == 1.0 and noise["share_of_horizons_above_copy"] == 0.0
    assert max(noise["psnr"].values()) < 11 < min(noise["copy_first_frame_psnr"].values())
    assert list(perfect["psnr_by_bin"]) == ["1-16", "17-20"]
    # A start whose episode ended counts no more: spoiling its later frames changes nothing.
    spoiled = truth.copy()
    spoiled[1, 5:] = 0.0
    assert long_play_results(spoiled, truth, first, length)["psnr"] == perfect["psnr"]
    # ... and a horizon no episode reached has no score.
    short = long_play_results(truth, truth, first, np.array([3, 5, 2, 4]))
    assert short["psnr"]["6"] is None and short["psnr"]["5"] == pytest.approx(100.0)


def test_unseen_pairs_count_the_tokens_real_frames_never_stack():
    """Real scenes of 4x3 tokens: sky (0) over a tower (1) over ground (2), or sky over ground."""
    real = np.array([[[0, 0, 0], [0, 1, 0], [2, 2, 2], [2, 2, 2]],
                     [[0, 0, 0], [0, 0, 0], [2, 2, 2], [2, 2, 2]]])
    seen = np.unique(metrics.vertical_token_pairs(real, num_codes=3))
    assert metrics.unseen_pairs(real, seen, 3).tolist() == [0, 0]
    # A tower moved sideways is still a scene; one floating in the sky stacks a tower on sky, and
    # ground on top of a tower stacks ground on it: one unseen pair each.
    moved, floating, buried = real[0].copy(), real[1].copy(), real[0].copy()
    moved[1] = [1, 0, 0]
    floating[0, 2] = 1
    buried[0, 1] = 2
    assert metrics.unseen_pairs(np.stack([moved, floating, buried]), seen, 3).tolist() == [0, 1, 1]
    # Sideways neighbours are not counted: a row of towers is not a broken scene.
    assert metrics.unseen_pairs(np.array([[[0, 0, 0], [1, 1, 1], [2, 2, 2], [2, 2, 2]]]), seen, 3).tolist() == [0]


def test_scene_results_score_a_copy_of_the_game_as_the_game_and_noise_outside_the_real_range():
    rng = np.random.default_rng(0)
    p, s = 3, 20
    real = rng.poisson(1.0, 1000)  # unseen pairs in held-out real frames: their 95th percentile is 3
    game = rng.poisson(1.0, (p, s))
    length = np.array([s, 6, s])
    copy = scene_results(game, game, real, length)
    assert copy["limit"] == 3.0 and copy["real_frames"] == 1000
    assert copy["within_range"] == copy["game_within_range"] > 0.9 and copy["unseen_pairs"] == copy["game_unseen_pairs"]
    noise = scene_results(rng.integers(20, 56, (p, s)), game, real, length)
    assert noise["within_range"] == 0.0 and noise["unseen_pairs"] >= 20
    assert list(noise["within_range_by_bin"]) == ["1-16", "17-20"]
    # A world that breaks after step 16 keeps its first bin and loses the second; frames after a
    # real episode's end are not scored.
    late = np.where(np.arange(s) < 16, 0, 50)[None].repeat(p, 0)
    late[1, 6:] = 50
    assert scene_results(late, game, real, length)["within_range_by_bin"] == {"1-16": 1.0, "17-20": 0.0}
