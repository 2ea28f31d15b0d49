"""Pieces every backend shares: event bits, the waker, the waiter table.

Threads: ``Waker.wake`` may be called from any thread; everything else
belongs to the backend's owner thread.
"""

import errno

from .. import _originals as _o

# What a waiter asks for (READ, WRITE) and what poll() reports (any of the
# four): the same bits for every backend, whatever the kernel's are.
READ = 1
WRITE = 2
HUP = 4         # the far end hung up: a read sees the end of the stream
ERR = 8         # an error is pending on the fd


def normaliser(read, write, hup, err):
    """``(mask, table)``: ``table[kernel_bits & mask]`` is those bits as
    READ | WRITE | HUP | ERR.  Each argument is the kernel's bits for that
    meaning, or'd.  Built once at import and never written after, so any
    thread may read it."""
    mask = read | write | hup | err
    bits = [1 << b for b in range(mask.bit_length()) if mask >> b & 1]
    table = {}
    for combo in range(1 << len(bits)):
        ev = sum(bit for i, bit in enumerate(bits) if combo >> i & 1)
        table[ev] = ((READ if ev & read else 0) | (WRITE if ev & write else 0)
                     | (HUP if ev & hup else 0) | (ERR if ev & err else 0))
    return mask, table


def as_fd(obj):
    """The fd of an int or of an object with fileno(), checked with
    select()'s own errors: TypeError, or ValueError for a negative fd."""
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            get = obj.fileno
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() "
                            "method.") from None
        fd = get()
    if not isinstance(fd, int):
        raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


class Waker:
    """Something a poll can wait on and any thread can make readable.

    An eventfd where there is one, else a non-blocking pipe.  Writes that
    find the counter or pipe full are fine: it is readable already.
    """

    def __init__(self):
        if _o.eventfd is not None:
            fd = _o.eventfd(0, _o.EFD_NONBLOCK | _o.EFD_CLOEXEC)
            self.fileno, self._wfd = fd, fd
        else:  # pragma: no cover - non-Linux
            r, w = _o.os_pipe()
            _o.set_blocking(r, False)
            _o.set_blocking(w, False)
            self.fileno, self._wfd = r, w

    def wake(self):
        try:
            if self._wfd == self.fileno:
                _o.eventfd_write(self._wfd, 1)
            else:  # pragma: no cover
                _o.os_write(self._wfd, b"\0")
        except BlockingIOError:
            pass
        except OSError as exc:  # closed during shutdown: nobody to wake
            if exc.errno != errno.EBADF:
                raise

    def drain(self):
        try:
            while _o.os_read(self.fileno, 4096) and self._wfd != self.fileno:
                pass
        except BlockingIOError:
            pass

    def close(self):
        _o.os_close(self.fileno)
        if self._wfd != self.fileno:
            _o.os_close(self._wfd)


class WaiterTable:
    """fd -> the tokens waiting to read and to write on it.

    Each token waits in one direction; a caller wanting both registers two.
    """

    __slots__ = ("fds", "waiting")

    def __init__(self):
        self.fds = {}       # fd -> [readers, writers]
        self.waiting = 0

    def add(self, fd, events, token):
        if events not in (READ, WRITE):
            raise ValueError("events must be READ or WRITE")
        entry = self.fds.get(fd)
        if entry is None:
            entry = self.fds[fd] = [[], []]
        entry[events - 1].append(token)
        self.waiting += 1
        return entry

    def remove(self, fd, token):
        entry = self.fds.get(fd)
        if entry is not None:
            for lst in entry:
                if token in lst:
                    lst.remove(token)
                    self.waiting -= 1
                    break
        return entry

    def take(self, fd, readable, writable, out, revents):
        """Move the tokens satisfied by this event into ``out``."""
        entry = self.fds.get(fd)
        if entry is None:
            return None
        if readable and entry[0]:
            for t in entry[0]:
                out.append((t, revents))
            self.waiting -= len(entry[0])
            entry[0].clear()
        if writable and entry[1]:
            for t in entry[1]:
                out.append((t, revents))
            self.waiting -= len(entry[1])
            entry[1].clear()
        return entry

    @staticmethod
    def mask(entry):
        return (READ if entry[0] else 0) | (WRITE if entry[1] else 0)


class BackendBase:
    """What both backends share: the waker, the table, ``register``.

    A backend sets up its kernel object and registers ``self._wfd`` for
    reading in ``__init__`` (after calling this one), and implements
    ``_sync(fd, entry, fresh, key)``: make the kernel interest match
    ``entry``; ``fresh`` means no other waiter was pending, so the kernel's
    view may be stale (an abandoned wait, or a closed fd whose number was
    reused); ``key`` is the caller's, or None (see ``register``).
    """

    def __init__(self):
        self._waker = Waker()
        self._wfd = self._waker.fileno
        self._table = WaiterTable()

    @property
    def waiting(self):
        return self._table.waiting

    def after_fork(self):
        """In a forked child: a kernel object and a waker of its own (the
        parent's are shared with the child), with every waiting fd armed
        again in it."""
        self._waker.close()
        self._waker = Waker()
        self._wfd = self._waker.fileno
        self._reopen()
        for fd, entry in list(self._table.fds.items()):
            if entry[0] or entry[1]:
                try:
                    self._sync(fd, entry, True)
                except OSError:
                    pass        # closed since: its waiters learn on close

    def wake(self):
        self._waker.wake()

    def register(self, fd, events, token, key=None):
        if fd == self._wfd:
            raise ValueError("cannot wait on the poller's own wake-up fd")
        entry = self._table.add(fd, events, token)
        fresh = len(entry[0]) + len(entry[1]) == 1
        try:
            self._sync(fd, entry, fresh, key)
        except PermissionError:      # a regular file: never blocks
            self._table.remove(fd, token)
            return False
        except BaseException:
            self._table.remove(fd, token)
            raise
        return True
