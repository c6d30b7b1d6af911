"""Training: one trainer for every stage, checkpoints, sharding and logging."""
