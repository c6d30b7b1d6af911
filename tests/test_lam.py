import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genie.config import ConfigError, override
from genie.eval.metrics import psnr_of_mse
from genie.nn.motion import shifts
from tests.conftest import fit, make_models


@pytest.mark.parametrize("motion_radius", [0, 2])
def test_actions_do_not_depend_on_later_frames(tiny_cfg, tiny_batch, motion_radius):
    """a_0..a_{t-1} (transitions up to frame t) ignore frames after t, also when the encoder
    reads motion between frames."""
    _, lam, _ = make_models(override(tiny_cfg, {"lam.motion_radius": motion_radius}))
    video = jnp.asarray(tiny_batch)
    t = 3
    perturbed = video.at[:, t + 1:].set(jax.random.uniform(jax.random.key(0), video[:, t + 1:].shape))
    z, z2 = lam.encode(video), lam.encode(perturbed)
    assert z.shape == (2, video.shape[1] - 1, tiny_cfg.lam.quantizer.code_dim)
    np.testing.assert_allclose(z[:, :t], z2[:, :t], atol=1e-5)
    assert not np.allclose(z[:, t:], z2[:, t:], atol=1e-3)
    actions = lam.infer_actions(video)
    assert actions.shape == (2, video.shape[1] - 1)
    assert int(actions.min()) >= 0 and int(actions.max()) < tiny_cfg.lam.num_actions


def test_frame_t_plus_1_reaches_the_decoder_only_through_a_t(tiny_cfg, tiny_batch):
    lam = make_models(tiny_cfg)[1]
    video = jnp.asarray(tiny_batch)
    q, _, _ = lam.vq(lam.encode(video))
    for t in range(video.shape[1] - 1):
        changed = video.at[:, t + 1].set(jax.random.uniform(jax.random.key(t), video[:, t + 1].shape))
        pred, pred_changed = lam.decode(video, q), lam.decode(changed, q)  # a_t held fixed
        np.testing.assert_allclose(pred[:, t], pred_changed[:, t], atol=1e-5)
        # ... while a different a_t does change the reconstruction of frame t+1.
        other = q.at[:, t].set(lam.vq.codes()[(lam.vq(q[:, t])[1] + 1) % tiny_cfg.lam.num_actions])
        assert not np.allclose(lam.decode(video, other)[:, t], pred[:, t], atol=1e-4)


def test_overfits_one_batch(tiny_cfg, tiny_batch):
    """Measured: PSNR of predicted next frames 9.6 dB at the start, 22.4 dB after 200 steps."""
    _, lam, _ = make_models(tiny_cfg)
    video = jnp.asarray(tiny_batch)
    history = fit(lam, lambda m, step: m.loss(video)[:2], steps=200)
    start, end = (float(psnr_of_mse(history[i]["mse"])) for i in (0, -1))
    print(f"LAM PSNR {start:.1f} -> {end:.1f} dB")
    assert end > start + 8


SHIFTING = {"lam.shift_radius": 2, "lam.decoder_patch_size": 4, "lam.decoder_history": False,
            "lam.quantizer.kind": "fsq", "lam.quantizer.fsq_levels": (3, 3), "lam.quantizer.num_codes": 9,
            "lam.quantizer.code_dim": 2}


def _shifting_lam(tiny_cfg, history=False):
    """A LAM whose decoder mixes shifted copies of frame t, its output heads made random."""
    _, lam, _ = make_models(override(tiny_cfg, {**SHIFTING, "lam.decoder_history": history}))
    for i, head in enumerate((lam.to_shift, lam.to_pixels)):
        head.kernel[...] = 0.3 * jax.random.normal(jax.random.key(i), head.kernel.shape)
    return lam


def test_the_shifting_decoder_keeps_the_bottleneck(tiny_cfg, tiny_batch):
    lam = _shifting_lam(tiny_cfg)
    video = jnp.asarray(tiny_batch)
    q, actions, _ = lam.quantize(lam.encode(video))
    pred = lam.decode(video, q)
    for t in range(video.shape[1] - 1):
        changed = video.at[:, t + 1].set(jax.random.uniform(jax.random.key(t), video[:, t + 1].shape))
        np.testing.assert_allclose(lam.decode(changed, q)[:, t], pred[:, t], atol=1e-5)
        other = q.at[:, t].set(lam.vq.lookup((actions[:, t] + 1) % 9))
        assert not np.allclose(lam.decode(video, other)[:, t], pred[:, t], atol=1e-4)


@pytest.mark.parametrize("history", [False, True])
def test_without_history_the_decoder_reads_frame_t_alone(tiny_cfg, tiny_batch, history):
    """Frames before t change the prediction of frame t+1 only when the decoder reads history."""
    lam = _shifting_lam(tiny_cfg, history)
    video = jnp.asarray(tiny_batch)
    q = lam.quantize(lam.encode(video))[0]
    t = 4
    earlier = video.at[:, :t].set(jax.random.uniform(jax.random.key(0), video[:, :t].shape))
    same = np.allclose(lam.decode(earlier, q)[:, t:], lam.decode(video, q)[:, t:], atol=1e-5)
    assert same != history


def test_the_shifting_decoder_scrolls_frame_t_exactly(tiny_cfg, tiny_batch):
    """With all its weight on one shift and no residual, the decoder's output is frame t moved
    by that shift: a scroll costs it nothing to draw."""
    _, lam, _ = make_models(override(tiny_cfg, SHIFTING))
    video = jnp.asarray(tiny_batch)
    lam.to_shift.bias[...] = jnp.zeros_like(lam.to_shift.bias[...]).at[shifts(2).index((0, 2))].set(100.0)
    pred = lam(video)[0]
    np.testing.assert_allclose(pred[:, :, :, :-2], video[:, :-1, :, 2:], atol=1e-5)  # (y, x) reads (y, x + 2)


def test_fsq_actions_standardise_with_running_statistics(tiny_cfg, tiny_batch):
    """Training standardises the codes with the batch's statistics and keeps running ones, with
    which inference gives each clip its own actions whatever else is in the batch."""
    _, lam, _ = make_models(override(tiny_cfg, SHIFTING))
    video = jnp.asarray(tiny_batch)
    before = np.asarray(lam.standardize.mean[...])
    lam.loss(video)
    assert not np.allclose(lam.standardize.mean[...], before)
    together = lam.infer_actions(video)
    alone = jnp.concatenate([lam.infer_actions(video[i:i + 1]) for i in range(video.shape[0])])
    np.testing.assert_array_equal(together, alone)
    assert int(together.max()) < 9


def test_calibrated_fsq_inference_gives_the_actions_training_gives(tiny_cfg, tiny_batch):
    """Training standardises with each batch's statistics, so the encoder may move its outputs
    far from the running ones; calibrating on clips makes inference give them the actions a
    training step gives them."""
    cfg = override(tiny_cfg, SHIFTING)
    _, lam, _ = make_models(cfg)
    video = jnp.asarray(tiny_batch)
    lam.to_action.bias[...] += 5.0  # the outputs' mean moved by many standard deviations
    z = lam.encode(video)
    trained = np.asarray(lam.quantize(z, train=True)[1])
    assert len(np.unique(trained)) > 1
    assert not np.array_equal(lam.infer_actions(video), trained)
    lam.calibrate(z.reshape(-1, cfg.lam.quantizer.code_dim))
    np.testing.assert_array_equal(lam.infer_actions(video), trained)


@pytest.mark.parametrize("fields, message", [
    ({**SHIFTING, "lam.quantizer.num_codes": 8}, "lam.quantizer.fsq_levels"),
    ({"lam.quantizer.kind": "gumbel"}, "lam.quantizer.kind"),
])
def test_lam_config_mistakes_are_named(tiny_cfg, fields, message):
    with pytest.raises(ConfigError, match=message):
        make_models(override(tiny_cfg, fields))
