"""Bad input to the public API: a clear exception at once, never a hang,
and the runtime keeps working afterwards.

One table, one row per bad call: what is called, the exception it must
raise (None: accepted, as its stdlib twin accepts it), a fragment of the
message where the message is the point, and the stdlib twin, where there
is one that raises the same type on every supported Python -- the row
checks the twin too, so the table cannot claim a type the stdlib does not
use.  Each row runs in a vthread and in a plain OS thread, each under a
timeout, and then the same runtime must still run a vthread.

Rules the table holds the library to (see docs/design.md, "Bad input"):
- a wrong type is a TypeError before any fast path, even where the stdlib
  twin happens not to look at its argument (a free lock, a set event);
- a value keeps the stdlib's meaning where a twin exists (a negative wait
  timeout is 0, ``Condition.notify(-1)`` wakes nobody), NaN is a ValueError.
"""

import asyncio
import math
import queue
import select as _select
import socket
import threading
import time
import concurrent.futures as cf

import pytest

import vthreads
from vthreads import monkey
from vthreads._core import current_runtime

nan = math.nan
BOTH, THREAD = ("vthread", "thread"), ("thread",)


class Row:
    def __init__(self, label, call, exc, match=None, twin=None, where=BOTH):
        self.label, self.call, self.exc = label, call, exc
        self.match, self.twin, self.where = match, twin, where


# --- what the rows build ------------------------------------------------------

class _BadFileno:
    def fileno(self):
        return "3"


def _sock_call(method, *args):
    def call():
        with socket.socket() as s:
            return getattr(vthreads, method)(s, *args)
    return call


def _owned(cls):
    c = cls()
    c.acquire()
    return c


def _aio(make):
    return lambda: asyncio.run(make())


async def _coro():
    return 1


def _barrier_bad_wait():
    # A bad timeout must not count the caller in: the barrier stays usable.
    b = vthreads.Barrier(2)
    try:
        b.wait("1")
    finally:
        assert b.n_waiting == 0, "the bad wait was counted in"


def _closed_pool():
    ex = vthreads.VThreadPoolExecutor()
    ex.shutdown()
    return ex


def _original_of_added_name():
    # A name that patching added has no original.
    key = ("socket", "_vthreads_test_added")
    with monkey._lock:
        monkey._saved[key] = (socket, monkey._MISSING)
    try:
        return monkey.get_original(*key)
    finally:
        with monkey._lock:
            del monkey._saved[key]


def _lock_release():
    vthreads.Lock().release()


V, S, T = vthreads, _select, threading
NOT_FD = "int, or have a fileno"

ROWS = [
    # fd waits: select()'s errors for what is not an fd
    *[Row(f"{f}({a!r})", lambda f=f, a=a: getattr(V, f)(a, 0), TypeError,
          NOT_FD, lambda a=a: S.select([a], [], [], 0))
      for f in ("wait_readable", "wait_writable") for a in (None, "3", 1.5)],
    *[Row(f"{f}(-1)", lambda f=f: getattr(V, f)(-1, 0), ValueError,
          "negative", lambda: S.select([-1], [], [], 0))
      for f in ("wait_readable", "wait_writable")],
    Row("wait_readable(fileno() -> str)", lambda: V.wait_readable(_BadFileno()),
        TypeError, "non-integer", lambda: S.select([_BadFileno()], [], [], 0)),
    Row("wait_readable(sock, timeout='1')", _sock_call("wait_readable", "1"),
        TypeError, "timeout"),
    Row("wait_writable(sock, timeout=-1)", _sock_call("wait_writable", -1),
        ValueError, "non-negative"),
    Row("wait_readable(sock, timeout=nan)", _sock_call("wait_readable", nan),
        ValueError, "NaN"),

    # spawning
    Row("spawn(1)", lambda: V.spawn(1), TypeError, "callable"),
    Row("spawn(None)", lambda: V.spawn(None), TypeError, "callable"),
    Row("run(1)", lambda: V.run(1), TypeError, "callable"),
    Row("to_thread(1)", lambda: V.to_thread(1), TypeError, "callable"),

    # waiting on a vthread, sleeping, scopes
    *[Row(f"VThread.{m}({t!r})", lambda m=m, t=t: getattr(V.spawn(int), m)(t),
          exc, frag)
      for m in ("join", "result", "exception")
      for t, exc, frag in ((-1, ValueError, "non-negative"),
                           (nan, ValueError, "NaN"), ("1", TypeError, "str"))],
    Row("sleep(-1)", lambda: V.sleep(-1), ValueError, "non-negative",
        lambda: time.sleep(-1)),
    Row("sleep(nan)", lambda: V.sleep(nan), ValueError, None,
        lambda: time.sleep(nan)),
    Row("sleep('1')", lambda: V.sleep("1"), TypeError, None,
        lambda: time.sleep("1")),
    *[Row(f"{f.__name__}({t!r})", lambda f=f, t=t: f(t), exc, frag)
      for f in (V.move_on_after, V.fail_after)
      for t, exc, frag in ((-1, ValueError, "non-negative"),
                           (nan, ValueError, "NaN"), ("1", TypeError, "str"))],
    *[Row(f"{f.__name__}({t!r})", lambda f=f, t=t: f(t), exc, "deadline")
      for f in (V.move_on_at, V.fail_at, V.CancelScope)
      for t, exc in ((nan, ValueError), ("1", TypeError), (b"1", TypeError))],
    Row("CancelScope().deadline = '1'",
        lambda: setattr(V.CancelScope(), "deadline", "1"), TypeError, "deadline"),

    # the runtime
    Row("configure(carriers='x')", lambda: V.configure(carriers="x"),
        TypeError, "carriers"),
    Row("configure(carriers=2.5)", lambda: V.configure(carriers=2.5),
        TypeError, "carriers"),
    Row("configure(carriers=0)", lambda: V.configure(carriers=0),
        ValueError, "carriers"),
    Row("configure(carriers=-1)", lambda: V.configure(carriers=-1),
        ValueError, "carriers"),
    # From a vthread of the runtime, shutdown() is refused whatever it gets.
    Row("shutdown('1')", lambda: V.shutdown("1"), TypeError, "timeout",
        where=THREAD),
    Row("shutdown(nan)", lambda: V.shutdown(nan), ValueError, "NaN",
        where=THREAD),
    Row("dump(file=1)", lambda: V.dump(file=1), TypeError, "write"),
    Row("dump(file='x')", lambda: V.dump(file="x"), TypeError, "write"),
    Row("dump(timeout='1')", lambda: V.dump(file=False, timeout="1"),
        TypeError, "timeout"),
    Row("dump(timeout=-1)", lambda: V.dump(file=False, timeout=-1),
        ValueError, "non-negative"),
    Row("dump(timeout=nan)", lambda: V.dump(file=False, timeout=nan),
        ValueError, "NaN"),
    Row("excepthook(1)", lambda: V.excepthook(1), TypeError, "ExceptHookArgs",
        lambda: T.__excepthook__(1)),
    Row("excepthook(None)", lambda: V.excepthook(None), TypeError,
        "ExceptHookArgs", lambda: T.__excepthook__(None)),
    Row("excepthook()", lambda: V.excepthook(), TypeError, None,
        lambda: T.__excepthook__()),
    Row("ExceptHookArgs(1, None)", lambda: V.ExceptHookArgs(1, None),
        TypeError, "exception"),
    Row("ExceptHookArgs(exc, 1)", lambda: V.ExceptHookArgs(ValueError(), 1),
        TypeError, "VThread"),

    # locks, semaphores, events, conditions, barriers
    *[Row(f"{ours.__name__}().acquire(timeout={t!r})",
          lambda ours=ours, t=t: ours().acquire(timeout=t),
          exc, frag, lambda std=std, t=t: std().acquire(timeout=t))
      for ours, std in ((V.Lock, T.Lock), (V.RLock, T.RLock))
      for t, exc, frag in ((-2, ValueError, "positive"), (nan, ValueError, None),
                           ("1", TypeError, "timeout"),
                           (None, TypeError, "timeout"),
                           (1e300, OverflowError, None))],
    Row("Lock().acquire(False, 1)", lambda: V.Lock().acquire(False, 1),
        ValueError, "non-blocking", lambda: T.Lock().acquire(False, 1)),
    Row("Lock().release() unlocked", _lock_release, RuntimeError, None,
        lambda: T.Lock().release()),
    Row("RLock().release() unowned", lambda: V.RLock().release(), RuntimeError,
        None, lambda: T.RLock().release()),
    Row("Semaphore(-1)", lambda: V.Semaphore(-1), ValueError, ">= 0",
        lambda: T.Semaphore(-1)),
    Row("BoundedSemaphore(-1)", lambda: V.BoundedSemaphore(-1), ValueError,
        ">= 0", lambda: T.BoundedSemaphore(-1)),
    Row("Semaphore('1')", lambda: V.Semaphore("1"), TypeError, None,
        lambda: T.Semaphore("1")),
    Row("Semaphore().release(0)", lambda: V.Semaphore().release(0),
        ValueError, "one or more", lambda: T.Semaphore().release(0)),
    Row("BoundedSemaphore().release()", lambda: V.BoundedSemaphore().release(),
        ValueError, "too many", lambda: T.BoundedSemaphore().release()),
    Row("Semaphore().acquire(False, 1)", lambda: V.Semaphore().acquire(False, 1),
        ValueError, "non-blocking", lambda: T.Semaphore().acquire(False, 1)),
    Row("Semaphore().acquire(timeout='1') free",
        lambda: V.Semaphore().acquire(timeout="1"), TypeError, "timeout"),
    Row("Semaphore(0).acquire(timeout=nan)",
        lambda: V.Semaphore(0).acquire(timeout=nan), ValueError, "NaN"),
    Row("Event().wait('1')", lambda: V.Event().wait("1"), TypeError, "timeout",
        lambda: T.Event().wait("1")),
    Row("Event().wait(nan)", lambda: V.Event().wait(nan), ValueError, "NaN"),
    Row("Event().wait(-1)", lambda: V.Event().wait(-1), None, None,
        lambda: T.Event().wait(-1)),
    Row("Condition().wait(0) unowned", lambda: V.Condition().wait(0),
        RuntimeError, "un-acquired", lambda: T.Condition().wait(0)),
    Row("Condition().notify() unowned", lambda: V.Condition().notify(),
        RuntimeError, "un-acquired", lambda: T.Condition().notify()),
    Row("Condition.wait('1')", lambda: _owned(V.Condition).wait("1"),
        TypeError, "timeout", lambda: _owned(T.Condition).wait("1")),
    Row("Condition.wait(nan)", lambda: _owned(V.Condition).wait(nan),
        ValueError, "NaN"),
    Row("Condition.wait_for(false, '1')",
        lambda: _owned(V.Condition).wait_for(bool, "1"), TypeError, "timeout",
        lambda: _owned(T.Condition).wait_for(bool, "1")),
    Row("Condition.notify('1')", lambda: _owned(V.Condition).notify("1"),
        TypeError, "number"),
    # Accepted, as threading (3.11, 3.13) and asyncio accept it: this class
    # is threading.Condition under patching, and n <= 0 wakes nobody there.
    Row("Condition.notify(-1)", lambda: _owned(V.Condition).notify(-1), None,
        None, lambda: _owned(T.Condition).notify(-1)),
    Row("Barrier(0)", lambda: V.Barrier(0), ValueError, ">= 1"),
    Row("Barrier(-1)", lambda: V.Barrier(-1), ValueError, ">= 1"),
    Row("Barrier(1.5)", lambda: V.Barrier(1.5), TypeError, None),
    Row("Barrier('2')", lambda: V.Barrier("2"), TypeError, None),
    Row("Barrier(1, timeout='1')", lambda: V.Barrier(1, timeout="1"),
        TypeError, "timeout"),
    Row("Barrier(2).wait('1')", _barrier_bad_wait, TypeError, "timeout"),
    Row("Barrier(1, action=1).wait()", lambda: V.Barrier(1, action=1).wait(),
        TypeError, None, lambda: T.Barrier(1, action=1).wait()),

    # queues and channels
    Row("Queue().get(timeout=-1)", lambda: V.Queue().get(timeout=-1),
        ValueError, "non-negative", lambda: queue.Queue().get(timeout=-1)),
    Row("Queue().get(timeout='1')", lambda: V.Queue().get(timeout="1"),
        TypeError, "timeout", lambda: queue.Queue().get(timeout="1")),
    Row("Queue().get(timeout=nan)", lambda: V.Queue().get(timeout=nan),
        ValueError, "NaN"),
    Row("Queue(1) full .put(timeout=-1)",
        lambda: (lambda q: (q.put(1), q.put(2, timeout=-1)))(V.Queue(1)),
        ValueError, "non-negative",
        lambda: (lambda q: (q.put(1), q.put(2, timeout=-1)))(queue.Queue(1))),
    Row("Queue().task_done()", lambda: V.Queue().task_done(), ValueError,
        "too many", lambda: queue.Queue().task_done()),
    Row("Queue('1')", lambda: V.Queue("1"), TypeError, "maxsize"),
    Row("Queue(nan)", lambda: V.Queue(nan), ValueError, "NaN"),
    Row("SimpleQueue().get(timeout=-1)", lambda: V.SimpleQueue().get(timeout=-1),
        ValueError, None, lambda: queue.SimpleQueue().get(timeout=-1)),
    Row("Channel(-1)", lambda: V.Channel(-1), ValueError, ">= 0"),
    Row("Channel('1')", lambda: V.Channel("1"), TypeError, "int"),
    Row("Channel(1).recv(timeout=-1)", lambda: V.Channel(1).recv(timeout=-1),
        ValueError, "non-negative"),
    Row("Channel().send(1, timeout='1')", lambda: V.Channel().send(1, timeout="1"),
        TypeError, "timeout"),
    Row("select()", lambda: V.select(), ValueError, "at least one"),
    Row("select(1)", lambda: V.select(1), TypeError, "cases"),

    # asyncio twins
    Row("join_async(1)", _aio(lambda: V.join_async(1)), TypeError, "VThread"),
    Row("join_async(vt, timeout=nan)",
        _aio(lambda: V.join_async(V.spawn(int), nan)), ValueError, "NaN"),
    Row("Lock().acquire_async(timeout='1')",
        _aio(lambda: V.Lock().acquire_async(timeout="1")), TypeError, "timeout"),
    Row("Event().wait_async(nan)", _aio(lambda: V.Event().wait_async(nan)),
        ValueError, "NaN"),
    Row("Queue().get_async(timeout='1')",
        _aio(lambda: V.Queue().get_async(timeout="1")), TypeError, "timeout"),
    Row("Barrier(2).wait_async('1')", _aio(lambda: V.Barrier(2).wait_async("1")),
        TypeError, "timeout"),
    Row("select_async(case, timeout=nan)",
        _aio(lambda: V.select_async(V.Channel().recv_case(), timeout=nan)),
        ValueError, "NaN"),
    Row("run_coroutine(1)", lambda: V.run_coroutine(1), TypeError, "coroutine"),
    Row("run_coroutine(c, loop='x')", lambda: V.run_coroutine(_coro(), loop="x"),
        TypeError, "event loop"),

    # the executor
    *[Row(f"VThreadPoolExecutor(max_workers={n!r})",
          lambda n=n: V.VThreadPoolExecutor(max_workers=n), exc, None,
          lambda n=n: cf.ThreadPoolExecutor(max_workers=n))
      for n, exc in ((0, ValueError), (-1, ValueError), ("2", TypeError))],
    Row("VThreadPoolExecutor.submit after shutdown",
        lambda: _closed_pool().submit(int), RuntimeError, "shutdown"),

    # monkey.get_original: gevent's exception types, messages that name
    # what is missing
    Row("get_original(None, 'socket')", lambda: monkey.get_original(None, "x"),
        TypeError, "NoneType"),
    Row("get_original('socket', None)",
        lambda: monkey.get_original("socket", None), TypeError, "NoneType"),
    Row("get_original('socket', 1)", lambda: monkey.get_original("socket", 1),
        TypeError, "int"),
    Row("get_original(missing module)",
        lambda: monkey.get_original("vthreads_no_such_mod", "x"),
        ModuleNotFoundError, "vthreads_no_such_mod"),
    Row("get_original(missing name)",
        lambda: monkey.get_original("socket", "no_such_name"), AttributeError,
        "'socket' has no attribute 'no_such_name'"),
    Row("get_original(missing dotted name)",
        lambda: monkey.get_original("socket", "socket.no_such"),
        AttributeError, "'socket.no_such'"),
    Row("get_original(name patching added)", _original_of_added_name,
        AttributeError, "no original"),
]

CASES = [pytest.param(row, where, id=f"{row.label}-{where}")
         for row in ROWS for where in row.where]


def _outcome(call):
    try:
        call()
    except BaseException as e:   # noqa: B036 - the row says what is right
        return e
    return None


def _run_in(where, call, timeout=10):
    """``call``'s exception (None if it returned), run in a vthread or a
    plain OS thread; fails the test if it does not end within ``timeout``."""
    box = []
    if where == "vthread":
        vt = vthreads.spawn(lambda: box.append(_outcome(call)))
        assert vt.join(timeout), f"hung in a vthread: {vt!r}"
    else:
        t = threading.Thread(target=lambda: box.append(_outcome(call)),
                             daemon=True)
        t.start()
        t.join(timeout)
        assert not t.is_alive(), "hung in an OS thread"
    return box[0]


@pytest.mark.parametrize("row, where", CASES)
def test_bad_input_raises_at_once_and_the_runtime_survives(row, where):
    vthreads.spawn(int).result(timeout=10)      # the runtime, up before
    rt = current_runtime()
    got = _run_in(where, row.call)
    if row.exc is None:
        assert got is None, f"{row.label} raised {got!r}"
    else:
        assert type(got) is row.exc, \
            f"{row.label}: {type(got).__name__}: {got} (want {row.exc.__name__})"
        if row.match is not None:
            assert row.match in str(got)
    if row.twin is not None:
        twin = _run_in("thread", row.twin)
        assert type(twin) is type(got), f"the stdlib raises {twin!r}"
    assert vthreads.spawn(lambda: 1).result(timeout=10) == 1
    assert current_runtime() is rt, "the bad call replaced the runtime"
