"""Stopping a run: SIGTERM (`kill`) is handled like Ctrl-C (SIGINT).

Both raise a KeyboardInterrupt (SIGTERM its subclass `Terminated`), so every clean-up written
for Ctrl-C (temporary files removed, workers ended, a checkpoint saved) runs for both; the
exit status is 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WORKER = False  # set in worker processes, which leave stop signals to their parent


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised where Ctrl-C would raise KeyboardInterrupt."""

    signum = signal.SIGTERM


def signal_of(exc: BaseException) -> int:
    """The signal that stopped the run: SIGTERM for `Terminated`, else SIGINT."""
    return int(getattr(exc, "signum", signal.SIGINT))


def exit_status(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended."""
    return 128 + signal_of(exc)


def signal_name(signum: int) -> str:
    """"Ctrl-C" for SIGINT, else the signal's name ("SIGTERM")."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def interrupt(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal raises: KeyboardInterrupt or Terminated."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def leave_signals_to_parent() -> None:
    """For a worker process (rnn.experiment's pool): Ctrl-C is ignored and SIGTERM ends it at
    once, as the parent, which handles both, ends its workers with SIGTERM."""
    global _WORKER
    _WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM raises `Terminated` (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_stop():
    """Within the block, the first SIGINT or SIGTERM only records itself in the yielded dict
    (key "signum"), so a loop can stop at a safe point; a second one raises at once."""
    flag = {"signum": None}
    if _WORKER or threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def record(signum, frame):
        if flag["signum"] is not None:
            raise interrupt(signum)
        flag["signum"] = signum

    previous = {s: signal.signal(s, record) for s in STOP_SIGNALS}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
