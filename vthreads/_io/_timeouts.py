"""Timeouts of the select module's waits, read as CPython reads them.

CPython's ``_PyTime_FromObject`` takes a float that is not NaN, or an
integer (anything with ``__index__``), and raises TypeError with the
calling function's own message for anything else; a wait longer than the
C call can express is an OverflowError.  The cooperative select, poll and
epoll take the same values and raise the same errors, so that code written
against the stdlib's errors (and a NaN that would otherwise wait for
ever) behaves the same patched.

Threads: any; pure functions.
"""

import math
import operator

from .._core import timeout_to_deadline


# CPython keeps times in nanoseconds, in a signed 64-bit integer.
_MAX_SECONDS = 2**63 / 1e9
# poll() and epoll_wait() take their timeout in milliseconds, as a C int.
_INT_MIN, _INT_MAX = -2**31, 2**31 - 1


def _number(timeout, type_message):
    """A timeout as a float or an int, checked as CPython checks one."""
    if isinstance(timeout, float):
        if math.isnan(timeout):
            raise ValueError("Invalid value NaN (not a number)")
        return timeout
    try:
        return operator.index(timeout)
    except TypeError:
        raise TypeError(type_message) from None


def _ms(value, rounding):
    """Milliseconds, rounded as the C call rounds them, as a C int; -1 if
    negative (poll and epoll wait for ever then)."""
    if not _INT_MIN - 1 < value < _INT_MAX + 1:        # inf too
        raise OverflowError("timeout is too large")
    ms = rounding(value)
    if not _INT_MIN <= ms <= _INT_MAX:
        raise OverflowError("timeout is too large")
    return ms if ms >= 0 else -1


def _away_from_zero(value):
    return math.ceil(value) if value >= 0 else math.floor(value)


def ms_deadline(ms):
    """A monotonic deadline for ``ms`` from ``_ms``; None for ever."""
    return None if ms < 0 else timeout_to_deadline(ms / 1000.0)


def select_timeout(timeout):
    """select.select's ``timeout``: None, or non-negative seconds."""
    if timeout is None:
        return None
    seconds = _number(timeout, "timeout must be a float or None")
    if not -_MAX_SECONDS < seconds < _MAX_SECONDS:
        raise OverflowError("timeout is too large")
    if seconds < 0:
        raise ValueError("timeout must be non-negative")
    return seconds


def poll_ms(timeout):
    """select.poll's ``timeout`` in milliseconds: -1 (for ever) or >= 0."""
    if timeout is None:
        return -1
    return _ms(_number(timeout, "timeout must be an integer or None"),
               _away_from_zero)


def epoll_ms(timeout):
    """select.epoll's ``timeout`` in seconds, as milliseconds: -1 (for
    ever) or >= 0.  Rounded up, not away from zero as in poll: -0.0005 is
    0 ms here, and for ever there."""
    if timeout is None:
        return -1
    seconds = _number(timeout, "timeout must be an integer or None")
    if not -_MAX_SECONDS < seconds < _MAX_SECONDS:
        raise OverflowError("timeout is too large")
    return _ms(seconds * 1000, math.ceil)
