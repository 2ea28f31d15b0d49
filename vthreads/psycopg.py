"""psycopg 3 under vthreads: waits that park, and cancelled vthreads that
cancel their query in the server.

psycopg runs every operation as a generator that says which way its socket
must become ready, and a wait function that waits for it.  At import it
picks ``wait_c``, from its C extension, unless it believes select is
patched -- and it only recognises gevent.  ``wait_c`` blocks in C: one
query holds its carrier for as long as the server takes.  So ``patch()``:

- sets ``psycopg.waiting.wait`` to psycopg's own ``wait_poll``, which calls
  ``select.poll()`` at every wait, cooperative once ``patch_select()`` ran
  (``monkey.patch_psycopg()`` runs it).  The pure-Python implementation
  picks ``wait_poll`` itself; this changes nothing there.
- sets ``psycopg.waiting.DefaultSelector`` to the cooperative selector:
  connecting waits in one, and psycopg took the blocking one if it was
  imported before patching.
- rebinds, in psycopg's and psycopg_pool's modules imported before
  patching, the stdlib names they took then (``Lock``, ``Condition``,
  ``Event``, ``time.sleep`` ...) to the patched ones: a connection's lock
  that is a real lock blocks the carrier of a second vthread using the
  connection, while the first one is parked holding it -- a deadlock on
  one carrier.  Objects made before patching keep what they have:
  connections and pools are best made after it.
- wraps ``psycopg.Connection.wait`` (every query, commit and fetch goes
  through it) so that ``vthreads.Cancelled`` does what psycopg does on
  Ctrl-C: ask the server to cancel the running query and read the
  connection back to a known state, so that it -- and the pool it came
  from -- serves the next query.  See ``_cancel_query``.

What still blocks the carrier: the cancel request itself where libpq is
older than 17 (the pure-Python implementation on the system's libpq 15:
psycopg falls back to PQcancel, one loopback round trip), and name
resolution inside libpq when a host name, not an address, is given
without ``hostaddr`` (psycopg resolves it in Python only for asyncio).

Threads: ``patch()`` and ``unpatch()`` run under ``vthreads.monkey``'s
lock; the wrapper runs in whatever thread or vthread queries, with the
connection's own lock held (psycopg takes it around each wait).
"""

import functools
import importlib
import selectors
import sys
from typing import Any

import psycopg
from psycopg import pq, waiting

import vthreads
import vthreads.monkey

# How long a cancelled query may take to come back before the connection
# is given up (closed; a pool replaces it).  psycopg allows 5 s on Ctrl-C.
CANCEL_TIMEOUT = 5.0
_INTERVAL = 0.1         # psycopg's own wake-up interval while waiting

_ACTIVE = pq.TransactionStatus.ACTIVE
_originals: dict[tuple[Any, str], Any] = {}         # (owner, name) -> value, while patched


def _cancel_query(conn, gen):
    """The query on ``conn`` was interrupted by Cancelled: cancel it in the
    server and drain ``gen`` to its end, shielded, within CANCEL_TIMEOUT.

    True if the server cancelled it (or it failed), False if it completed
    anyway -- the caller then returns its result, as trio lets an
    operation that finished return: level-triggered cancellation raises
    again at the next park.  A ROLLBACK in cleanup code after a cancel is
    such an operation, and returns the connection to its pool idle.
    """
    with vthreads.move_on_after(CANCEL_TIMEOUT, shield=True) as scope:
        try:
            conn.cancel_safe(timeout=CANCEL_TIMEOUT)
        except Exception:
            pass        # the drain below times out, and closes it
        try:
            return False, waiting.wait(gen, conn.pgconn.socket,
                                       interval=_INTERVAL)
        except psycopg.Error:       # QueryCanceled, as expected, or worse
            return True, None
    if scope.cancelled_caught:
        # The server never answered: the connection's state is unknown.
        conn.pgconn.finish()
    return True, None


def _make_wait(original):
    @functools.wraps(original)
    def wait(self, gen, *args, **kwargs):
        try:
            return original(self, gen, *args, **kwargs)
        except vthreads.Cancelled:
            if self.pgconn.transaction_status != _ACTIVE:
                raise           # nothing in flight: nothing to cancel
            cancelled, result = _cancel_query(self, gen)
            if cancelled:
                raise
            return result
    return wait


def _set(owner, name, value):
    _originals.setdefault((owner, name), getattr(owner, name))
    setattr(owner, name, value)


def _patched_names():
    """id(original) -> replacement, for every stdlib name patched now."""
    out = {}
    for table, names in vthreads.monkey.TABLES.items():
        modname = table.split(" ", 1)[0]
        mod = sys.modules.get(modname) or importlib.import_module(modname)
        for name in names:
            if "." in name:
                continue
            new = getattr(mod, name, None)
            old = vthreads.monkey.get_original(modname, name)
            if new is not old:
                out[id(old)] = (old, new)
    return out


def _rebind_early_references():
    patched = _patched_names()
    for modname, mod in list(sys.modules.items()):
        if mod is None or modname.split(".", 1)[0] not in ("psycopg",
                                                           "psycopg_pool"):
            continue
        for attr, value in list(vars(mod).items()):
            entry = patched.get(id(value))
            if entry is not None and entry[0] is value:
                _set(mod, attr, entry[1])


def patch():
    """Make psycopg's waits cooperative (idempotent)."""
    if _originals:
        return
    _rebind_early_references()
    _set(waiting, "wait", waiting.wait_poll)
    _set(waiting, "DefaultSelector", selectors.DefaultSelector)
    _set(psycopg.Connection, "wait", _make_wait(psycopg.Connection.wait))


def unpatch():
    """Put psycopg's own waits back."""
    for (owner, name), value in _originals.items():
        setattr(owner, name, value)
    _originals.clear()
