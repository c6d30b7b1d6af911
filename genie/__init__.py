"""Latent-action world models in JAX: video tokenizer, latent action model, MaskGIT dynamics."""

__version__ = "0.1.0"
