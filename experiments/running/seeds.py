"""Seeds and identities of runs.

* Each run's seed comes from ``numpy.random.SeedSequence(experiment_seed, spawn_key=(*point_key, replicate))``.
  The *point key* is a hash of the design point's factor values (not its position in the design), so
  adding replicates, points or levels never changes the seed of a run already made: resumed and
  extended sweeps reuse every finished run. With ``crn = true`` the spawn key is ``(replicate,)``
  only — common random numbers: replicate *r* of every policy sees the same random stream.
* The design's own randomness (LHS, Sobol scrambling, Morris trajectories) uses a separate
  sub-stream of the experiment seed.
* A run's id hashes the resolved config's digest, the seed and the model version: the same run in
  any experiment, on any executor, has the same id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

_WORDS = 4  # point key: 128 bits as four uint32 words (fixed length, no ambiguity)
_DESIGN_STREAM = (0xD1E5, 0x16)  # spawn key of the design sub-stream; point keys have 5 entries


def _canonical(values: Mapping[str, Any]) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (np.floating,)):
            return float(v)
        if isinstance(v, np.bool_):
            return bool(v)
        return v

    return json.dumps({k: norm(v) for k, v in values.items()}, sort_keys=True, allow_nan=False)


def point_key(values: Mapping[str, Any]) -> tuple[int, ...]:
    """A design point's identity: four uint32 words hashed from its factor values (order-free)."""
    digest = hashlib.sha256(_canonical(values).encode()).digest()
    return tuple(int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(_WORDS))


def run_seed(experiment_seed: int, key: tuple[int, ...] | None, replicate: int) -> int:
    """The seed of one run: a non-negative 63-bit integer (fits int64 columns)."""
    spawn = (replicate,) if key is None else (*key, replicate)
    ss = np.random.SeedSequence(experiment_seed, spawn_key=spawn)
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def design_rng(experiment_seed: int) -> np.random.Generator:
    """The generator used to draw the design (LHS points, Sobol scrambling, Morris trajectories)."""
    return np.random.default_rng(np.random.SeedSequence(experiment_seed, spawn_key=_DESIGN_STREAM))


def design_seed(experiment_seed: int) -> int:
    """An integer seed for samplers that only take ints (SALib's Morris), from the design stream."""
    return int(design_rng(experiment_seed).integers(0, 2**31 - 1))


def run_id(config_digest: str, seed: int, model_version: str) -> str:
    """16-hex id of a run: hash of (resolved config digest, seed, model version)."""
    blob = f"{config_digest}|{seed}|{model_version}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
