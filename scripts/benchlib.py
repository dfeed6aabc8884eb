"""Timing and peak-memory measurement shared by the benchmark scripts."""

from __future__ import annotations

import gc
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_bytes: int = 0  # peak resident memory above the level when the run started

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


@contextmanager
def measure(interval: float = 0.005, *, trace: bool = False):
    """Wall time and peak memory growth of the block: resident memory sampled every
    ``interval`` seconds, and with ``trace`` also the tracemalloc peak (numpy's allocations
    included), which sees memory the allocator reuses; the larger of the two is reported."""
    import tracemalloc

    gc.collect()
    if trace:
        tracemalloc.start()
    m = Measurement()
    base = _rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            stop.wait(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - start
        stop.set()
        t.join()
        m.peak_bytes = max(peak[0], _rss_bytes()) - base
        if trace:
            m.peak_bytes = max(m.peak_bytes, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
