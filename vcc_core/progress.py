"""How long work reports its progress: one callback type for every step that takes a while.

The pages pass a progress bar's ``progress(fraction, text)``, the CLI prints the messages, and the default says
nothing. Functions take ``progress: Progress | None`` and call :func:`reporter` once to get a callable.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``: ``fraction`` in [0, 1] of the work done, ``message`` the step starting."""

Say = Callable[[str], None]
"""``say(message)``: a step starting, for work whose length is not known in advance (reading files)."""


def reporter(progress: Progress | None) -> Progress:
    """``progress``, or a callable that says nothing."""
    return progress if progress is not None else _silent


def _silent(fraction: float, message: str) -> None:
    """Say nothing."""


def sayer(say: Say | None) -> Say:
    """``say``, or a callable that says nothing."""
    return say if say is not None else _quiet


def _quiet(message: str) -> None:
    """Say nothing."""
