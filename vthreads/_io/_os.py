"""Cooperative os.read, os.write and os.waitpid.

- ``read`` / ``write`` wait for the fd to be readable / writable, then make
  the real call.  For pipes, ttys and sockets that call then does not block
  (unless another reader takes the data first); regular files are always
  ready.  The fd's own blocking flag is left alone: other code shares it.
  A write larger than the pipe's free space may still block until the
  reader catches up.  An fd not open for that direction (a write to a
  pipe's read end) never becomes ready: the real call is made at once,
  and fails with EBADF as the stdlib's does.
- ``waitpid(pid, options)`` for one child parks on a pidfd (Linux 5.3+)
  until the child exits, then reaps it without blocking.  For "any child"
  (pid <= 0), or where pidfds are missing, the real call runs on the
  to_thread helpers.

Threads: any.
"""

from .. import _originals as _o
from .._core import to_thread, wait_readable, wait_writable


def _opened_for(fd, wrong):
    """False if ``fd``'s access mode is ``wrong`` (O_WRONLY for a read,
    O_RDONLY for a write); a bad fd is left to the real call as well."""
    try:
        return _o.fcntl(fd, _o.F_GETFL) & _o.O_ACCMODE != wrong
    except (OSError, TypeError, ValueError, OverflowError):
        return False


def read(fd, n):
    if _opened_for(fd, _o.O_WRONLY):
        wait_readable(fd)
    return _o.os_read(fd, n)


def write(fd, data):
    if _opened_for(fd, _o.O_RDONLY):
        wait_writable(fd)
    return _o.os_write(fd, data)


def waitpid(pid, options):
    if options & _o.WNOHANG:
        return _o.waitpid(pid, options)
    if pid > 0 and _o.pidfd_open is not None:
        try:
            pidfd = _o.pidfd_open(pid)
        except OSError:
            pidfd = None      # not our child, or already reaped: real call
        if pidfd is not None:
            try:
                wait_readable(pidfd)
            finally:
                _o.os_close(pidfd)
            return _o.waitpid(pid, options)
    return to_thread(_o.waitpid, pid, options)
