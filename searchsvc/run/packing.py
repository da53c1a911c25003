"""Trials packed on a GPU by their memory: the share of a GPU one trial asks for, and how many fit on one.

Under ``gpus: auto`` a trial asks Ray for the fraction of a GPU its training needs: what a CUDA process
holds before its first tensor (its context, ``CUDA_CONTEXT_BYTES``; a bundle's trials share their
worker's) plus the trial's estimated training memory with ``HEADROOM`` on top, over the GPU's memory,
rounded up to a hundredth and at most the whole GPU. A trial that runs out of GPU memory anyway is
re-queued with twice the share, up to a whole GPU (``grown`` counts its doublings), its config
unchanged. How many run at once is bounded by the node's cores too: each trial asks for its CPUs.
"""

from __future__ import annotations

import math

#: what a CUDA process holds before its first tensor: its context, kernels and the caching allocator's first block
CUDA_CONTEXT_BYTES = 512 * 2**20
#: what a trial's share adds to its estimated training memory (the estimate's error, allocator rounding)
HEADROOM = 0.25
#: the finest share asked for
GRAIN = 0.01


def gpu_share(need_bytes: int, gpu_memory_bytes: int, grown: int = 0) -> float:
    """The fraction of a GPU of ``gpu_memory_bytes`` that a trial needing ``need_bytes`` asks for."""
    share = (CUDA_CONTEXT_BYTES + need_bytes * (1 + HEADROOM)) / gpu_memory_bytes * 2**grown
    return min(1.0, math.ceil(share / GRAIN - 1e-9) * GRAIN)


def per_gpu(share: float) -> int:
    """How many trials of that share fit on one GPU."""
    return int(1 / share + 1e-9)
