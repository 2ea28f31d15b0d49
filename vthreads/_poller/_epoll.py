"""The epoll backend (Linux).  See the package docstring for the contract.

epoll facts that shape this file:
- An interest is registered once (ADD) and then changed (MOD).  With
  EPOLLONESHOT the kernel disarms it after one event but keeps it
  registered, so the next wait on the same fd costs one MOD, not ADD+DEL.
- Closing an fd removes it from the epoll set only when the last reference
  to the open file description goes; a reused fd number may therefore be
  unknown to the kernel (MOD fails with ENOENT) or still known (ADD fails
  with EEXIST).  Both are retried the other way.
- A wait that finds no other waiter on its fd always re-arms (one MOD):
  our record of what is armed may describe a closed fd whose number was
  reused.
- ADD and MOD look at the fd's readiness there and then, so a wait that
  (re-)arms can never miss data that came before it.
- Regular files cannot be added (EPERM): they never block, so the caller
  is told "ready now".

Keyed waits (the cooperative socket's): the caller passes a key that
stands for its open file for as long as the caller lives, and waits only
right after the operation failed with EAGAIN.  Such an fd is registered
once, edge-triggered and without one-shot, and stays registered: a later
wait with the same key costs no system call.  It cannot miss data, because
anything that arrives after the EAGAIN raises a new edge, and it cannot
confuse files, because a reused fd number comes with another key.  At
worst a waiter is woken by an edge for data it had already read, tries
again, and waits again.  An edge in a direction nobody waits for (an
error or hang-up counts for both) cannot be seen again, so it turns the
fd back into one-shot, armed for whoever still waits (one MOD): the next
keyed wait re-arms, and ADD/MOD report what is already there.  With
nobody waiting it ends disarmed, so a socket now used on another carrier
stops waking this one.  A wait without a key on such an fd turns it
back into one-shot too (one MOD).

Threads: the owner carrier runs everything except ``wake``.
"""

from .. import _originals as _o
from ._base import ERR, HUP, READ, WRITE, BackendBase, WaiterTable, normaliser

_IN, _OUT = _o.EPOLLIN, _o.EPOLLOUT
_ERRS = _o.EPOLLERR | _o.EPOLLHUP
_ONESHOT = _o.EPOLLONESHOT
_ET = _o.EPOLLET
_RDHUP = _o.EPOLLRDHUP
# The kernel's bits -> READ | WRITE | HUP | ERR, for poll()'s callers.
_SEEN, _NORMAL = normaliser(_IN | _o.EPOLLPRI, _OUT, _o.EPOLLHUP | _RDHUP,
                            _o.EPOLLERR)


# Our READ/WRITE mask -> epoll's, always one-shot.  A table: this is on
# every park.
_KERNEL_MASK = tuple(((_IN if m & READ else 0) | (_OUT if m & WRITE else 0))
                     | _ONESHOT for m in range((READ | WRITE) + 1))
# ... and for keyed waits: edge-triggered, kept armed, and telling a
# reader when the peer's end came (RDHUP), which the socket needs to know.
_EDGE_MASK = tuple(((_IN | _RDHUP if m & READ else 0)
                    | (_OUT if m & WRITE else 0))
                   | _ET for m in range((READ | WRITE) + 1))


class EpollBackend(BackendBase):
    def __init__(self):
        super().__init__()
        self._ep = None
        self._reopen()

    def _reopen(self):
        if self._ep is not None:
            self._ep.close()
        self._ep = _o.epoll()
        self._ep.register(self._wfd, _IN)
        self._armed = {}    # fd -> one-shot mask armed in the kernel (0: disarmed)
        self._keyed = {}    # fd -> (key, mask) registered edge-triggered

    def register(self, fd, events, token, key=None):
        if key is not None:
            keyed = self._keyed.get(fd)
            if keyed is not None and keyed[0] is key \
                    and events & ~keyed[1] == 0:
                # Armed already (edge-triggered, for this key): no call to
                # the kernel, the common case of a keyed wait.
                self._table.add(fd, events, token)
                return True
        return BackendBase.register(self, fd, events, token, key)

    def _sync(self, fd, entry, fresh, key=None):
        mask = WaiterTable.mask(entry)
        keyed = self._keyed.get(fd)
        if key is not None:
            if keyed is not None and keyed[0] is key:
                mask |= keyed[1]    # another direction (register did the rest)
            self._ctl(fd, _EDGE_MASK[mask],
                      keyed is not None or fd in self._armed)
            self._armed.pop(fd, None)
            self._keyed[fd] = (key, mask)
            return
        if keyed is not None:       # back to one-shot: the waiter may not
            del self._keyed[fd]     # have tried its operation first
            self._armed[fd] = 0
            fresh = True
        self._arm(fd, mask, fresh)

    def _ctl(self, fd, kmask, known):
        """ADD or MOD, as our records say; the kernel may know better (a
        closed fd whose number was reused), so each falls back on the other."""
        if known:
            try:
                self._ep.modify(fd, kmask)
            except FileNotFoundError:
                self._ep.register(fd, kmask)
        else:
            try:
                self._ep.register(fd, kmask)
            except FileExistsError:
                self._ep.modify(fd, kmask)

    def _arm(self, fd, mask, force=False):
        armed = self._armed.get(fd)
        if armed == mask and not force:
            return
        self._ctl(fd, _KERNEL_MASK[mask], armed is not None)
        self._armed[fd] = mask

    def _unkey(self, fd, entry, ready):
        """A keyed edge went (partly) unclaimed: it cannot be seen again.
        Make the fd one-shot, armed for whoever still waits (disarmed if
        nobody: its socket may be in use on another carrier now, and should
        not keep waking this one); a keyed wait re-arms, and ADD/MOD look
        at the readiness afresh."""
        del self._keyed[fd]
        self._armed[fd] = 0         # known to the kernel: MOD, not ADD
        self._rearm(fd, entry, ready, True)

    def _rearm(self, fd, entry, ready, force=False):
        """Arm the fd one-shot for the waiters left in ``entry``.  If it
        went bad under them, wake them, so their own call reports it."""
        try:
            self._arm(fd, WaiterTable.mask(entry) if entry is not None
                      else 0, force)
        except OSError:
            self._armed.pop(fd, None)
            self._table.take(fd, True, True, ready, ERR)

    def unregister(self, fd, token):
        self._table.remove(fd, token)

    def poll(self, timeout):
        if timeout is None:
            timeout = -1
        try:
            events = self._ep.poll(timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            events = ()
        ready = []
        table = self._table
        keyed = self._keyed
        for fd, ev in events:
            if fd == self._wfd:
                self._waker.drain()
                continue
            err = ev & _ERRS
            got = _NORMAL[ev & _SEEN]
            if fd in keyed:
                # Edge-triggered, still armed.  An edge in a direction
                # nobody waits for is lost to a later keyed wait, which
                # would not re-arm: make the fd one-shot again instead.
                entry = table.fds.get(fd)
                rd = ev & (_IN | _RDHUP) or err
                wr = ev & _OUT or err
                missed = entry is None or (rd and not entry[0]) or (
                    wr and not entry[1])
                if entry is not None:
                    table.take(fd, rd, wr, ready, got)
                if missed:
                    self._unkey(fd, entry, ready)
                continue
            entry = table.take(fd, ev & _IN or err, ev & _OUT or err, ready,
                               got)
            left = entry is not None and (entry[0] or entry[1])
            # The one-shot fired: the kernel disarmed this fd.
            self._armed[fd] = 0
            if left:
                self._rearm(fd, entry, ready)
            elif entry is not None:
                del table.fds[fd]
        return ready

    def close(self):
        self._ep.close()
        self._waker.close()
