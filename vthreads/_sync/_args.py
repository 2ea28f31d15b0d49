"""Argument checks shared by the primitives, with threading's own words."""

from .. import _originals as _o
from .._core import timeout_to_deadline


def acquire_deadline(blocking, timeout):
    """threading's ``acquire(blocking=True, timeout=-1)`` rules -> deadline."""
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
    return timeout_to_deadline(max(timeout, 0))
