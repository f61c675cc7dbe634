"""The worker threads the functional model shares for work that releases the GIL.

Read-noise draws (:class:`reramsim.devices.ReadNoise`: numpy fills arrays without the GIL)
and the clipping kernel (:func:`reramsim._core._bitserial.clip_correction`, which runs
``nogil``) are split into parts whose results do not depend on the number of threads;
:func:`pool` runs those parts. Threads are started on first use.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

#: Worker threads (at most 4, at most the CPUs).
THREADS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def pool() -> ThreadPoolExecutor:
    """The shared worker threads (started on first use, and again in a forked child, which
    inherits the pool but not its threads)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="reramsim-worker")
        _pool_pid = os.getpid()
    return _pool
