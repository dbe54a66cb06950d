"""How much memory a run may use, and the check every large allocation passes first.

The limit is `RNN_LAB_MAX_MEMORY` (e.g. "8GB", "512MiB", a number of bytes) when set, else
half of the machine's RAM (or of the container's memory limit, when lower). The CLI's
`--max-memory` sets that variable, so worker processes inherit it.
"""

from __future__ import annotations

import os
import re

from rnn.errors import ResourceError

ENV = "RNN_LAB_MAX_MEMORY"
DEFAULT_FRACTION = 0.5
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}
_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*\Z", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size such as "8GB", "1.5 GiB", "500MB" or "1000000"; ValueError if not."""
    match = _SIZE.match(str(text))
    unit = match and match.group(2).lower()
    if not match or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (e.g. 8GB, 512MiB or a number of bytes)")
    size = float(match.group(1)) * _UNITS[unit]
    if not 1 <= size < 2**63:
        raise ValueError(f"a size must be at least one byte, got {text!r}")
    return int(size)


def format_size(n: float) -> str:
    """Bytes as a short decimal size: "512 B", "3.2 MB", "1.6 GB"."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def machine_memory() -> int:
    """Bytes of RAM this process can use: the machine's, or its cgroup's limit if lower."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 8 * 10**9  # unknown: assume a small machine
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                limit = f.read().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def memory_limit() -> int:
    """The most memory a run may need, in bytes (see the module docstring)."""
    text = os.environ.get(ENV)
    if text:
        try:
            return parse_size(text)
        except ValueError as exc:
            raise ResourceError(f"{ENV}={text}: {exc}") from None
    return int(machine_memory() * DEFAULT_FRACTION)


def limit_source() -> str:
    """Where the limit comes from, and how to change it, in words."""
    if os.environ.get(ENV):
        return f"set by {ENV} or --max-memory"
    return (f"half of this machine's {format_size(machine_memory())} of RAM; raise it with "
            f"--max-memory or {ENV}")


def check_memory(needed: float, what: str) -> None:
    """ResourceError if `needed` bytes exceed the limit; the message names `what`."""
    limit = memory_limit()
    if needed > limit:
        raise ResourceError(f"{what} needs about {format_size(needed)} of memory, more than the "
                            f"limit of {format_size(limit)} ({limit_source()})")
