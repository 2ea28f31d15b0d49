"""Cooperative select.epoll, and the select module's timeouts and errors
compared with the unpatched stdlib's on the same calls."""

import decimal
import math
import os
import resource
import select as std_select
import selectors
import socket as std_socket
import textwrap
import threading
import types

import pytest

import vthreads
from vthreads import _originals as _o
from vthreads._io import DefaultSelector, epoll, poll, select, socketpair
from vthreads.monkey import get_original
from conftest import run_script, wait_until

pytestmark = pytest.mark.skipif(_o.epoll is None, reason="Linux only")

IN, OUT, ET = std_select.EPOLLIN, std_select.EPOLLOUT, std_select.EPOLLET
ONESHOT, RDHUP = std_select.EPOLLONESHOT, std_select.EPOLLRDHUP


def outcome(fn, *args, **kwargs):
    """What a call did: its result, or its exception's type, errno and text."""
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:        # compared with the stdlib's, below
        return (type(exc), getattr(exc, "errno", None), str(exc))


def same(ours, std, messages=True):
    """Whether two outcomes agree.  An OverflowError's text is C's name for
    the limit it hit, so only its type counts, as with ``messages=False``."""
    if not messages or std[0] is OverflowError:
        return ours[:2] == std[:2]
    return ours == std


def guarded(fn):
    """Run ``fn`` (the cooperative side) so that a wait the stdlib would
    not make fails the test instead of hanging it."""
    def call(*args, **kwargs):
        with vthreads.fail_after(10):
            return fn(*args, **kwargs)
    return call


def dead_fd():
    """An fd number that is not open, and that no new fd will take."""
    fd = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1
    with pytest.raises(OSError):
        os.fstat(fd)
    return fd


# --- parking --------------------------------------------------------------

def test_a_poll_lets_the_other_vthreads_of_its_carrier_run(one_carrier):
    # kombu's broker loop: epoll.poll(timeout) while tasks share the carrier.
    a, b = socketpair()
    trace = []

    def poller():
        with epoll() as ep:
            ep.register(a, IN)
            trace.append(("timed out", ep.poll(0.2)))
            trace.append(("ready", ep.poll(10)))

    def ticker():
        for i in range(3):
            trace.append(("tick", i))
            vthreads.sleep(0)
        while len(trace) < 4:       # until the poll timed out
            vthreads.sleep(0.005)
        b.send(b"x")

    def main():
        p = vthreads.spawn(poller)
        t = vthreads.spawn(ticker)
        p.join()
        t.join()

    fd = a.fileno()
    with a, b:
        vthreads.run(main)
    assert trace == [("tick", 0), ("tick", 1), ("tick", 2), ("timed out", []),
                     ("ready", [(fd, IN)])]


def test_readiness_wakes_a_parked_vthread_and_edges_stay_edges(one_carrier):
    a, b = socketpair()
    with a, b, epoll() as ep:
        ep.register(a, IN | ET)
        vt = vthreads.spawn(ep.poll, 10)
        assert wait_until(lambda: "parked on EPOLL" in repr(vt))
        b.send(b"1")
        assert vt.result(10) == [(a.fileno(), IN)]
        # The data is still unread: no new edge, so the next wait parks
        # until its timeout (the epoll fd is not readable).
        assert vthreads.spawn(ep.poll, 0.05).result(10) == []
        vt = vthreads.spawn(ep.poll, 10)
        assert wait_until(lambda: "parked on EPOLL" in repr(vt))
        b.send(b"2")
        assert vt.result(10) == [(a.fileno(), IN)]


def test_readiness_wakes_a_plain_thread():
    a, b = socketpair()
    out = []
    with a, b, epoll() as ep:
        ep.register(a, IN)
        t = threading.Thread(target=lambda: out.append(ep.poll(10)))
        t.start()
        b.send(b"x")
        t.join(10)
        assert out == [[(a.fileno(), IN)]]
        t = threading.Thread(target=lambda: out.append(ep.poll(0)))
        a.recv(1)
        t.start()
        t.join(10)
        assert out[1] == []


# Cancellation and timeouts: the "epoll" wait in test_cancel.py's matrix.


@pytest.mark.parametrize("where", ["vthread", "thread"])
def test_close_wakes_a_parked_poll(where):
    a, b = socketpair()
    ep = epoll()
    ep.register(a, IN)
    out = []

    def body():
        out.append(outcome(ep.poll))

    if where == "vthread":
        vt = vthreads.spawn(body)
        assert wait_until(lambda: "parked on EPOLL" in repr(vt))
    else:
        t = threading.Thread(target=body)
        t.start()
    ep.close()
    if where == "vthread":
        vt.join(10)
    else:
        t.join(10)
    with a, b:
        assert out == [(ValueError, None, "I/O operation on closed epoll object")]


def test_a_poll_loop_that_never_parks_still_lets_others_run(one_carrier):
    a, b = socketpair()
    b.send(b"x")                    # a stays readable
    done = []

    def spinner():
        with epoll() as ep:
            ep.register(a, IN)
            n = 0
            while not done:
                assert ep.poll(None)
                ep.poll(0)
                n += 1
            return n

    def main():
        s = vthreads.spawn(spinner)
        vthreads.spawn(done.append, True).join()
        return s.result(10)

    with a, b:
        assert vthreads.run(main) >= 1


def test_epoll_selector_and_default_selector_are_epoll_and_park(one_carrier):
    a, b = socketpair()
    with a, b, DefaultSelector() as sel:
        assert isinstance(sel._selector, epoll)
        sel.register(a, selectors.EVENT_READ, "a")
        vt = vthreads.spawn(sel.select, 10)
        assert wait_until(lambda: "parked on EPOLL" in repr(vt))
        b.send(b"x")
        ((key, events),) = vt.result(10)
        assert key.data == "a" and events == selectors.EVENT_READ


# --- the stdlib's shape and errors ------------------------------------------

def _env():
    a, b = std_socket.socketpair()
    f = open(os.devnull)
    return types.SimpleNamespace(a=a, b=b, file=f, dead=dead_fd(),
                                 close=lambda: (a.close(), b.close(), f.close()))


def _closed(E):
    ep = E()
    ep.close()
    return ep


def _events(E, x):
    """Level, edge, one-shot, RDHUP and EXCLUSIVE, through waits that park
    (timeouts > 0) on the cooperative side."""
    ep = E()
    ep.register(x.a, IN | ET)
    out = [ep.poll(0.02)]
    x.b.send(b"1")
    out += [ep.poll(1), ep.poll(0.02)]          # one edge, reported once
    x.b.send(b"2")
    out.append(ep.poll(1))
    ep.modify(x.a, IN | ONESHOT)                # data there: armed, ready
    out += [ep.poll(1), ep.poll(0.02)]          # then disarmed
    ep.modify(x.a, IN | ONESHOT)
    out.append(ep.poll(1))
    ep.register(x.b, OUT)                       # level: every time
    out += [ep.poll(1, 1), ep.poll(1, 1), ep.poll(1, 1)]
    ep.unregister(x.b)
    ep.modify(x.a, IN | RDHUP)
    x.a.recv(10)
    x.b.shutdown(std_socket.SHUT_WR)
    out.append(ep.poll(1))
    ep.unregister(x.a)
    ep.register(x.a, IN | std_select.EPOLLEXCLUSIVE)
    out.append(outcome(ep.modify, x.a, IN))     # EINVAL, from the kernel
    ep.close()
    return out


def _fromfd(E, x):
    ep = E()
    other = type(ep).fromfd(os.dup(ep.fileno()))
    other.register(x.a, OUT)
    ep.close()
    got = other.poll(1)
    other.close()
    return type(other) is type(ep), got, other.closed


def _register_twice(E, x):
    ep = E()
    ep.register(x.a)
    ep.register(x.a)


def _default_mask(E, x):
    ep = E()
    ep.register(x.a)                # IN | PRI | OUT: writable at once
    return ep.poll(1)


def _fromfd_dead(E, x):
    ep = E.fromfd(x.dead)           # taken on trust, as the stdlib does
    return ep.closed, outcome(ep.poll, 0), outcome(ep.poll, 0.01), ep.close()


def _context(E, x):
    with E() as ep:
        pass
    return ep.closed, outcome(ep.__enter__), outcome(ep.__exit__)


CASES = {
    # name: (call(E, x), exact messages?) -- False where the message is
    # the argument parser's own (C's and Python's wordings differ).
    "sizehint -1": (lambda E, x: E(-1).close(), True),
    "sizehint 0": (lambda E, x: E(0), True),
    "sizehint -2": (lambda E, x: E(-2), True),
    "sizehint str": (lambda E, x: E("x"), True),
    "sizehint float": (lambda E, x: E(1.5), True),
    "sizehint by keyword": (lambda E, x: E(sizehint=3).close(), True),
    "bad flags": (lambda E, x: E(5, 1), True),
    "cloexec flags": (lambda E, x: E(flags=std_select.EPOLL_CLOEXEC).close(), True),
    "unknown keyword": (lambda E, x: E(foo=1), False),
    "register twice": (_register_twice, True),
    "modify unknown": (lambda E, x: E().modify(x.a, IN), True),
    "unregister unknown": (lambda E, x: E().unregister(x.a), True),
    "register closed fd": (lambda E, x: E().register(x.dead), True),
    "modify closed fd": (lambda E, x: E().modify(x.dead, IN), True),
    "register negative fd": (lambda E, x: E().register(-1), True),
    "register str": (lambda E, x: E().register("x"), True),
    "register bad mask": (lambda E, x: E().register(x.a, "x"), True),
    "register regular file": (lambda E, x: E().register(x.file), True),
    "register, no fd": (lambda E, x: E().register(), False),
    "modify, no mask": (lambda E, x: E().modify(x.a), False),
    "default mask": (_default_mask, True),
    "poll nan": (lambda E, x: E().poll(math.nan), True),
    "poll str": (lambda E, x: E().poll("1"), True),
    "poll complex": (lambda E, x: E().poll(1j), True),
    "poll decimal": (lambda E, x: E().poll(decimal.Decimal("0.01")), True),
    "poll too long": (lambda E, x: E().poll(2**31 / 1000 + 1), True),
    "poll inf": (lambda E, x: E().poll(math.inf), True),
    "poll -inf": (lambda E, x: E().poll(-math.inf), True),
    "poll huge int": (lambda E, x: E().poll(10**30), True),
    "poll 0": (lambda E, x: E().poll(0), True),
    "poll -0.0005 is 0 ms": (lambda E, x: E().poll(-0.0005), True),
    "poll 0.01 by keyword": (lambda E, x: E().poll(timeout=0.01), True),
    "poll maxevents 0": (lambda E, x: E().poll(0, 0), True),
    "poll maxevents -2": (lambda E, x: E().poll(0, -2), True),
    "poll maxevents str": (lambda E, x: E().poll(0, "x"), True),
    "poll maxevents by keyword": (lambda E, x: E().poll(0, maxevents=1), True),
    "closed": (lambda E, x: _closed(E).closed, True),
    "closed poll": (lambda E, x: _closed(E).poll(0), True),
    "closed poll nan": (lambda E, x: _closed(E).poll(math.nan), True),
    "closed fileno": (lambda E, x: _closed(E).fileno(), True),
    "closed register": (lambda E, x: _closed(E).register(x.a), True),
    "closed modify": (lambda E, x: _closed(E).modify(x.a, IN), True),
    "closed unregister": (lambda E, x: _closed(E).unregister(x.a), True),
    "close twice": (lambda E, x: _closed(E).close(), True),
    "context manager": (_context, True),
    "fromfd": (_fromfd, True),
    "fromfd bad fd": (_fromfd_dead, True),
    "events": (_events, True),
}


@pytest.mark.parametrize("name", CASES)
def test_epoll_matches_the_stdlib(name):
    call, exact = CASES[name]
    results = []
    for E in (_o.epoll, guarded(epoll)):
        # fromfd is a class method: the cooperative class, unguarded.
        E = epoll if E is not _o.epoll and name.startswith("fromfd") else E
        x = _env()
        try:
            results.append(outcome(call, E, x))
        finally:
            x.close()
    std, ours = results
    assert same(ours, std, exact)


SELECT_TIMEOUTS = [math.nan, "1", 1j, decimal.Decimal("0.01"), -1, -0.0000001,
                   math.inf, 10**30, 1e10, 0, 0.01, False]
POLL_TIMEOUTS = [math.nan, "1", 1j, decimal.Decimal("1"), 2**31, -2**31 - 1,
                 math.inf, -math.inf, 10**30, 0, 0.4, 5, 2**31 - 1 + 0.5]


@pytest.mark.parametrize("timeout", SELECT_TIMEOUTS, ids=repr)
def test_select_timeouts_match_the_stdlib(timeout):
    a, b = socketpair()
    with a, b:
        std = outcome(get_original("select", "select"), [a], [], [], timeout)
        ours = outcome(guarded(select), [a], [], [], timeout)
    assert same(ours, std)


@pytest.mark.parametrize("timeout", POLL_TIMEOUTS, ids=repr)
def test_poll_timeouts_match_the_stdlib(timeout):
    a, b = socketpair()
    with a, b:
        b.send(b"x")                # ready: a valid timeout returns at once
        results = []
        for make in (_o.poll, poll):
            p = make()
            p.register(a, std_select.POLLIN)
            call = p.poll if make is _o.poll else guarded(p.poll)
            results.append(outcome(call, timeout))
    std, ours = results
    assert same(ours, std)


def test_poll_of_nan_raises_as_the_stdlib_instead_of_waiting():
    p = poll()
    with pytest.raises(ValueError, match="NaN"):
        guarded(p.poll)(math.nan)


def test_default_selector_refuses_a_closed_fd_as_the_stdlib():
    x = _env()
    try:
        results = []
        for cls in (_o.DefaultSelector, DefaultSelector):
            with cls() as sel:
                results.append(outcome(sel.register, x.dead,
                                       selectors.EVENT_READ))
                results.append(outcome(sel.register, x.file,
                                       selectors.EVENT_READ))
                results.append(outcome(guarded(sel.select), 0))
    finally:
        x.close()
    std, ours = results[:3], results[3:]
    assert std[0][:2] == (OSError, 9) and ours == std


# --- under patch_all ---------------------------------------------------------

def test_patched_select_epoll_parks_and_selectors_use_it():
    r = run_script(textwrap.dedent("""
        import vthreads.monkey
        vthreads.monkey.patch_all()
        import select, selectors, socket, time
        import vthreads

        trace = []

        def ticker(a):
            for i in range(3):
                trace.append(("tick", i))
                time.sleep(0)
            while len(trace) < 4:
                time.sleep(0.005)
            a.send(b"x")

        def main():
            a, b = socket.socketpair()
            ep = select.epoll()
            ep.register(b, select.EPOLLIN)
            t = vthreads.spawn(ticker, a)
            trace.append(("timed out", ep.poll(0.5)))
            trace.append(("ready", ep.poll(10) == [(b.fileno(), select.EPOLLIN)]))
            t.join()
            for cls in (selectors.DefaultSelector, selectors.EpollSelector):
                with cls() as sel:
                    assert isinstance(sel._selector, select.epoll)
                    sel.register(b, selectors.EVENT_READ)
                    assert len(sel.select(1)) == 1
            print(trace)

        vthreads.run(main, carriers=1)
    """), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        "[('tick', 0), ('tick', 1), ('tick', 2), ('timed out', []), "
        "('ready', True)]")


def test_the_main_thread_blocks_in_a_patched_epoll_cancellably():
    r = run_script(textwrap.dedent("""
        import vthreads.monkey
        vthreads.monkey.patch_all()
        import os, select, signal
        import vthreads

        rfd, wfd = os.pipe()
        ep = select.epoll()
        ep.register(rfd, select.EPOLLIN)
        with vthreads.move_on_after(0.05) as scope:
            ep.poll()
        print("scope", scope.cancelled_caught)

        class Alarm(Exception):
            pass

        def on_alarm(*_):
            raise Alarm

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        try:
            ep.poll()
        except Alarm:
            print("alarm")
        os.write(wfd, b"x")
        print(ep.poll() == [(rfd, select.EPOLLIN)])
    """), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["scope", "True", "alarm", "True"]


def test_a_module_holding_select_epoll_from_before_patching_is_named():
    # kombu.utils.eventio takes select.epoll at import: patched later, it
    # keeps the blocking class, and patch_all() says so.
    r = run_script(textwrap.dedent("""
        import warnings
        import types, sys, select
        early = types.ModuleType("early_epoll_user")
        early.epoll = select.epoll
        sys.modules["early_epoll_user"] = early
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import vthreads.monkey
            vthreads.monkey.patch_select()
        print([str(w.message).split(" took")[0] for w in caught])
    """), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == \
        "['select was patched after early_epoll_user']"
