"""The portable backend: selectors.DefaultSelector (kqueue, poll, select).

Same contract as the epoll backend.  Selectors have no one-shot mode, so
the interest is modified or removed after every event.

Threads: the owner carrier runs everything except ``wake``.
"""

import selectors

from .. import _originals as _o
from ._base import ERR, READ, WRITE, BackendBase, WaiterTable

# selectors reports EVENT_READ | EVENT_WRITE, which are our READ | WRITE.
assert (selectors.EVENT_READ, selectors.EVENT_WRITE) == (READ, WRITE)

_SEL = {READ: selectors.EVENT_READ, WRITE: selectors.EVENT_WRITE}


def _sel_mask(mask):
    return (_SEL[READ] if mask & READ else 0) | (_SEL[WRITE] if mask & WRITE else 0)


class SelectorsBackend(BackendBase):
    def __init__(self):
        super().__init__()
        self._sel = None
        self._reopen()

    def _reopen(self):
        if self._sel is not None:
            self._sel.close()
        self._sel = _o.DefaultSelector()
        self._sel.register(self._wfd, selectors.EVENT_READ)

    def _sync(self, fd, entry, fresh=False, key=None):
        # ``key`` buys nothing here: selectors re-arm after every event.
        if fresh:
            # The selector's map may describe a closed fd whose number was
            # reused.  Start from a clean registration.
            try:
                self._sel.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass
        mask = _sel_mask(WaiterTable.mask(entry)) if entry else 0
        try:
            key = self._sel.get_map().get(fd)
            if key is None:
                if mask:
                    self._sel.register(fd, mask)
            elif not mask:
                self._sel.unregister(fd)
            elif key.events != mask:
                self._sel.modify(fd, mask)
        except (KeyError, ValueError) as exc:
            raise OSError(f"bad file descriptor {fd}") from exc

    def unregister(self, fd, token):
        entry = self._table.remove(fd, token)
        if entry is not None:
            try:
                self._sync(fd, entry)
            except OSError:
                pass

    def poll(self, timeout):
        ready = []
        for key, ev in self._sel.select(timeout):
            fd = key.fd
            if fd == self._wfd:
                self._waker.drain()
                continue
            entry = self._table.take(fd, ev & selectors.EVENT_READ,
                                     ev & selectors.EVENT_WRITE, ready, ev)
            if entry is not None:
                try:
                    self._sync(fd, entry)
                except OSError:
                    self._table.take(fd, True, True, ready, ev | ERR)
                if not WaiterTable.mask(entry):
                    self._table.fds.pop(fd, None)
        return ready

    def close(self):
        self._sel.close()
        self._waker.close()
