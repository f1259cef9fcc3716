"""Keep freed memory in the process: glibc's malloc tuned for NumPy's large temporaries.

By default glibc hands every block of 128 KiB or more (a threshold that adapts, up to 32
MiB) to its own `mmap` and gives memory at the top of the heap back to the kernel once more
than twice that is free. A batched evaluation makes and frees tens of arrays of a few MiB
per step, so each one came back as fresh zeroed pages: `moxco generalize two-layer-net
--inits 200 --steps 200` spent 6.5 s of 13.6 s CPU in the kernel (2.9 million minor page
faults); with the thresholds below, 0.08 s (15 thousand faults), and 6.5 s wall instead of
17. The process keeps up to TRIM_BYTES of freed memory for reuse; nothing else changes (the
numbers computed are the same bits).
"""

from __future__ import annotations

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 * 2**20  # blocks below this come from the heap (glibc's largest allowed)
TRIM_BYTES = 32 * 2**20  # free memory at the top of the heap kept before trimming (16 MiB
# already avoided the faults; every process, forked workers too, keeps at most this much)


def keep_freed_memory() -> bool:
    """Set the two thresholds (glibc only; elsewhere nothing happens). True if both took."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
