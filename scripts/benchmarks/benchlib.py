"""Timing and peak-memory measurement shared by the benchmark scripts."""

from __future__ import annotations

import gc
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass


def _rss_bytes() -> int:
    return _statm()[0]


def _statm() -> tuple[int, int]:
    """Resident memory, and its anonymous part (resident minus file-backed and shared pages: what
    the process allocated, without the memory-mapped Arrow files it reads)."""
    with open("/proc/self/statm") as f:
        fields = f.read().split()
    page = os.sysconf("SC_PAGE_SIZE")
    return int(fields[1]) * page, (int(fields[1]) - int(fields[2])) * page


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_bytes: int = 0  # peak resident memory above the level when the run started
    rss_bytes: int = 0  # peak resident memory growth alone
    anon_bytes: int = 0  # peak growth of anonymous resident memory (no mapped files)
    traced_bytes: int = 0  # tracemalloc peak (with trace=True)

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
    base, base_anon = _statm()
    peak = [base, base_anon]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            rss, anon = _statm()
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], anon)
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
        rss, anon = _statm()
        m.rss_bytes = m.peak_bytes = max(peak[0], rss) - base
        m.anon_bytes = max(peak[1], anon) - base_anon
        if trace:
            m.traced_bytes = tracemalloc.get_traced_memory()[1]
            m.peak_bytes = max(m.peak_bytes, m.traced_bytes)
            tracemalloc.stop()
