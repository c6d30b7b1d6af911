"""Scale-out with JAX's own runtime: one mesh over every device of every process, batches
split on its data axis, parameters replicated or FSDP-sharded over the same axis."""

from __future__ import annotations

import os

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from genie.config import ConfigError

DATA = "data"


def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None) -> None:
    """Joins a multi-process run; explicit flags win, else JAX reads the cluster's environment
    (SLURM, Open MPI, TPU pods, or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID)."""
    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and "JAX_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and "JAX_PROCESS_ID" in os.environ:
        process_id = int(os.environ["JAX_PROCESS_ID"])
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)


def make_mesh() -> Mesh:
    # Auto axes: under the Explicit default of jax.make_mesh the codebook gather on a
    # batch-sharded input raises instead of letting XLA choose the layout.
    return jax.make_mesh((jax.device_count(),), (DATA,), axis_types=(jax.sharding.AxisType.Auto,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA))


def _param_spec(shape, size: int, mode: str) -> P:
    if mode == "replicate" or size == 1:
        return P()
    if mode != "fsdp":
        raise ConfigError(f"unknown train.param_sharding {mode!r}; use replicate or fsdp")
    # Shard the largest axis that splits evenly; small or indivisible arrays stay replicated.
    for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
        if shape[axis] % size == 0 and shape[axis] >= size:
            return P(*([None] * axis), DATA)
    return P()


def place(module: nnx.Module, mesh: Mesh, mode: str) -> None:
    """Moves a module's state (parameters, statistics) onto the mesh."""
    state = nnx.state(module)
    size = mesh.shape[DATA]
    shardings = jax.tree.map(lambda x: NamedSharding(mesh, _param_spec(np.shape(x), size, mode)), state)
    nnx.update(module, jax.device_put(state, shardings))


def global_batch(local: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """Assembles each process's part of the batch into one array sharded over the mesh."""
    return jax.make_array_from_process_local_data(sharding, local)
