"""Pixels between disk and models: uint8 frames <-> float32 in [0, 1], and fitting any image
to the dataset's frame size."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_float(video):
    """uint8 pixels (numpy or jax, any shape) -> float32 in [0, 1], a jax array."""
    import jax.numpy as jnp  # here, so that generating or importing data does not start JAX

    return jnp.asarray(video).astype(jnp.float32) / 255.0


def to_uint8(video):
    """Float pixels in [0, 1] (values outside are clipped) -> uint8, rounded: a numpy array from a
    numpy array (without starting JAX), otherwise a jax array (traceable)."""
    if isinstance(video, np.ndarray):
        xp = np
    else:
        import jax.numpy as xp
    return (xp.clip(xp.asarray(video), 0, 1) * 255 + 0.5).astype(xp.uint8)


def stack_clips(clips: list[dict], frames: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """Decoded clips (ClipSource items) -> (uint8 video_BTHWC, int32 actions_BTm1), the frames
    of each clip taken by `frames`."""
    video = np.stack([c["frames_THWC"][frames] for c in clips])
    return video, np.stack([c["actions_Tm1"] for c in clips]).astype(np.int32)


def grid(cells_RCHWC: np.ndarray, gap: int = 0, scale: int = 1) -> np.ndarray:
    """[R, C, H, W, 3] uint8 -> one image of R rows of C cells, a white gap between cells, scaled up."""
    r, c, h, w, _ = cells_RCHWC.shape
    canvas = np.full((r * (h + gap) - gap, c * (w + gap) - gap, 3), 255, np.uint8)
    for i in range(r):
        for j in range(c):
            canvas[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = cells_RCHWC[i, j]
    return canvas.repeat(scale, 0).repeat(scale, 1)


def to_rgb(image: Image.Image) -> Image.Image:
    """A PIL image of any mode as 8-bit RGB: 16- and 32-bit integer and float grey scaled into
    0..255 (Pillow's own conversion clips them), palettes expanded, alpha dropped."""
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, np.float64)
        if image.mode == "F":
            top = 1.0 if values.max(initial=0) <= 1 else 255.0
        else:
            top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        image = Image.fromarray((np.clip(values / top, 0, 1) * 255 + 0.5).astype(np.uint8))
    return image.convert("RGB")


def fit_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """An RGB uint8 frame of any size, centre-cropped to the aspect ratio and resized."""
    image = Image.fromarray(frame).convert("RGB")
    w, h = image.size
    scale = min(w / width, h / height)  # centre crop to the target aspect ratio, then resize
    crop_w, crop_h = round(width * scale), round(height * scale)
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    image = image.crop((left, top, left + crop_w, top + crop_h)).resize((width, height), Image.Resampling.BOX)
    return np.asarray(image, np.uint8)
