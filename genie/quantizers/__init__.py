"""Quantizers: continuous vectors to discrete codes (VQ, FSQ)."""
