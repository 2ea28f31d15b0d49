"""Argument checks shared by the primitives, with threading's own words.

A timeout of the wrong type is a TypeError at once, before any fast path
(``_core.check_number``); values keep threading's meaning.
"""

from .. import _originals as _o
from .._core import check_number, timeout_to_deadline


def acquire_deadline(blocking, timeout):
    """threading's ``acquire(blocking=True, timeout=-1)`` rules -> deadline."""
    timeout = check_number(timeout)
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be positive")
    if timeout > _o.TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return None if timeout == -1 else timeout_to_deadline(timeout)


def wait_deadline(timeout):
    """``wait(timeout=None)`` as in threading: a negative timeout is 0."""
    if timeout is None:
        return None
    return timeout_to_deadline(max(check_number(timeout), 0))


def async_timeout(timeout):
    """A coroutine's ``timeout=None``, as asyncio's: a negative one is 0."""
    if timeout is None:
        return None
    return max(check_number(timeout), 0)
