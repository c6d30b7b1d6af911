"""Clip datasets: generation, the shard format, loading, and importing a user's videos."""
