"""Generating frames: MaskGIT decoding and cached frame-by-frame rollout."""
