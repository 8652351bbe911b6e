"""What the machine this runs on says about itself: usable CPUs (the affinity mask), physical and available
memory (os.sysconf, /proc/meminfo), the last-level cache (sysfs) and the CPU's model name (/proc/cpuinfo).
Standard library only; each reader falls back where its source is missing (None or a default).
"""

from __future__ import annotations

import os
from pathlib import Path


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def physical_memory() -> float:
    """Physical memory in bytes: os.sysconf pages x page size, else /proc/meminfo MemTotal."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        value = meminfo("MemTotal")
        if value is None:
            raise RuntimeError("cannot read the physical memory size (os.sysconf or /proc/meminfo)") from None
        return value


def meminfo(key: str) -> float | None:
    """A /proc/meminfo figure in bytes (its kB are KiB), or None where it is unavailable."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == key:
                return float(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def last_level_cache_bytes() -> int | None:
    """Size of the largest CPU cache of cpu0 (sysfs), or None where sysfs does not say."""
    sizes = []
    for size_file in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = size_file.read_text().strip()
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform.processor(), else 'unknown CPU'."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"
