"""Image and clustering metrics, each checked against known answers in the tests."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from genie.nn import motion


def psnr(a, b):
    """PSNR in dB of images in [0, 1], one value per image: [..., H, W, C] -> [...]."""
    error = jnp.asarray(a, jnp.float32) - jnp.asarray(b, jnp.float32)
    return psnr_of_mse(jnp.mean(jnp.square(error), axis=(-3, -2, -1)))


def psnr_of_mse(mse):
    """PSNR in dB of a mean squared error of values in [0, 1]."""
    return -10.0 * jnp.log10(jnp.maximum(mse, 1e-10))


def _gaussian_kernel(size: int = 11, sigma: float = 1.5) -> jax.Array:
    x = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2
    g = jnp.exp(-0.5 * jnp.square(x / sigma))
    return g / g.sum()


def _blur(x_MHW, kernel):
    """Separable Gaussian filter, 'valid' borders: [M, H, W] -> [M, H-10, W-10]."""
    k = kernel.shape[0]
    conv = lambda x, w: jax.lax.conv_general_dilated(x[:, None], w[None, None], (1, 1), "VALID")[:, 0]
    return conv(conv(x_MHW, kernel.reshape(k, 1)), kernel.reshape(1, k))


def ssim(a, b, max_value: float = 1.0):
    """SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid borders,
    the mean over channels, as tf.image.ssim), one value per image: [..., H, W, C] -> [...]."""
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    lead, (h, w, c) = a.shape[:-3], a.shape[-3:]
    to_maps = lambda x: jnp.moveaxis(x.reshape(-1, h, w, c), -1, 1).reshape(-1, h, w)
    x, y = to_maps(a), to_maps(b)
    kernel = _gaussian_kernel()
    c1, c2 = (0.01 * max_value) ** 2, (0.03 * max_value) ** 2
    # Variances from maps centred on their means: E[x^2] - E[x]^2 in float32 loses digits.
    mean_x, mean_y = x.mean((1, 2), keepdims=True), y.mean((1, 2), keepdims=True)
    x, y = x - mean_x, y - mean_y
    mu_x, mu_y = _blur(x, kernel), _blur(y, kernel)
    var_x = _blur(x * x, kernel) - mu_x**2
    var_y = _blur(y * y, kernel) - mu_y**2
    cov = _blur(x * y, kernel) - mu_x * mu_y
    mu_x, mu_y = mu_x + mean_x, mu_y + mean_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    structure = (2 * cov + c2) / (var_x + var_y + c2)
    per_map = jnp.mean(luminance * structure, axis=(-2, -1))
    return per_map.reshape(*lead, c).mean(-1)


def contingency(labels_a, labels_b, num_a: int, num_b: int) -> np.ndarray:
    """counts[i, j] = how often labels_a == i and labels_b == j."""
    counts = np.zeros((num_a, num_b), np.int64)
    np.add.at(counts, (np.asarray(labels_a), np.asarray(labels_b)), 1)
    return counts


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def nmi(counts: np.ndarray) -> float:
    """Normalised mutual information of a contingency table: I(U; V) / mean(H(U), H(V))
    (the arithmetic normalisation, scikit-learn's default). 1 when one labelling determines
    the other up to renaming, 0 when they are independent."""
    p = counts / counts.sum()
    h_a, h_b = _entropy(p.sum(1)), _entropy(p.sum(0))
    mutual = h_a + h_b - _entropy(p.ravel())
    if h_a == 0 or h_b == 0:  # a constant labelling carries no information (and determines nothing)
        return 1.0 if h_a == h_b else 0.0
    return float(max(mutual, 0.0) / ((h_a + h_b) / 2))


def purity(counts: np.ndarray) -> float:
    """Purity of the clusters (rows) with respect to the classes (columns): the share of items
    in the majority class of their cluster."""
    return float(counts.max(axis=1).sum() / counts.sum())


def frame_shifts(video_BTHWC, radius: int = 4) -> np.ndarray:
    """[B, T-1, 2]: for each transition t -> t+1, the whole-frame shift (dy, dx) in
    [-radius, radius]^2 that best maps frame t onto frame t+1 (motion.shift_costs over the
    whole frame; among equal fits the smallest shift). Frame t+1 at (y, x) is frame t at
    (y + dy, x + dx): in a scrolling game, the camera's motion."""
    return np.asarray(_frame_shifts(jnp.asarray(video_BTHWC, jnp.float32), radius))


@functools.partial(jax.jit, static_argnums=1)
def _frame_shifts(video_BTHWC, radius: int):
    # Patches of the frames' largest common side, so that their mean is the whole frame's.
    cost_BTS = motion.shift_costs(video_BTHWC, radius, math.gcd(*video_BTHWC.shape[2:4])).mean(axis=2)
    by_size = sorted(motion.shifts(radius), key=lambda s: abs(s[0]) + abs(s[1]))  # argmin takes the first
    order = jnp.asarray([motion.shifts(radius).index(s) for s in by_size])
    return jnp.asarray(by_size, jnp.int32)[jnp.argmin(cost_BTS[..., order], axis=-1)]


def codebook_stats(codes, num_codes: int) -> dict:
    """Share of the K codes used at least once, and the perplexity of their frequencies."""
    freq = np.bincount(np.asarray(codes).ravel(), minlength=num_codes) / np.asarray(codes).size
    return {"usage": float(np.mean(freq > 0)), "perplexity": float(np.exp(_entropy(freq)))}


def vertical_token_pairs(tokens_FHW, num_codes: int) -> np.ndarray:
    """Each frame's vertically adjacent tokens (above, below), one integer a pair: [F, H-1, W]."""
    tokens = np.asarray(tokens_FHW, np.int64)
    return tokens[:, :-1] * num_codes + tokens[:, 1:]


def unseen_pairs(tokens_FHW, seen_pairs, num_codes: int) -> np.ndarray:
    """[F]: how many of each frame's vertically adjacent token pairs are not among `seen_pairs`
    (vertical_token_pairs of real frames). Broken scenes (blocks floating in the sky, a skyline
    turned checkerboard, walls patched with other colours) stack tokens that real frames never
    stack; sideways neighbours vary more with the scroll and told broken frames from whole ones
    less well (docs/record.md)."""
    return (~np.isin(vertical_token_pairs(tokens_FHW, num_codes), seen_pairs)).sum(axis=(1, 2))


def best_latent_for_each_class(counts: np.ndarray) -> list[int]:
    """For each class (column), the cluster (row) that realises it best: the largest
    count^2 / (row total * column total), i.e. P(cluster | class) * P(class | cluster), so a
    latent action that occurs everywhere does not win every class."""
    rows, cols = counts.sum(1, keepdims=True), counts.sum(0, keepdims=True)
    score = np.square(counts.astype(np.float64)) / np.maximum(rows * cols, 1)
    return [int(i) for i in score.argmax(axis=0)]
