"""fd waits in OS threads after a plain ``patch_all()``: the gevent way.

A program that calls ``patch_all()`` at its top and then blocks in the
main OS thread (or in a real thread) waits in ThreadTask's poll(), which
takes a C int of milliseconds.  A wait with no deadline (communicate()
passes one of 10**9 s) or a timeout of 2**31 ms or more must block as it
does in a vthread, not raise OverflowError.  Each case runs in a fresh
process, in the main thread and in a real thread, and is woken by a
real thread that writes to a pipe: the wait ends only by readiness.
"""

import pytest

from conftest import run_script

PRELUDE = """
import vthreads.monkey; vthreads.monkey.patch_all()
import os, select, selectors, socket, subprocess, sys
from vthreads.monkey import get_original
OSThread = get_original("threading", "Thread")
real_sleep = get_original("time", "sleep")

def later(fd, data=b"!"):
    def write():
        real_sleep(0.05)
        os.write(fd, data)
    # Not a daemon: one that ends while the interpreter finalizes aborts
    # greenlet 3.5.6 on 3.13t (an assertion in murder_in_place), which is
    # not what these tests are about.
    OSThread(target=write).start()

def op_select(t):
    r, w = os.pipe()
    later(w)
    return select.select([r], [], [], t)[0] == [r]

def op_selector(t):
    r, w = os.pipe()
    later(w)
    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)
    return [k.fd for k, _ in sel.select(t)] == [r]

def op_recv(t):
    a, b = socket.socketpair()
    a.settimeout(t)
    later(b.fileno())
    return a.recv(1) == b"!"

def op_communicate(t):
    p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return p.communicate(b"hi", timeout=t) == (b"hi", None)

def op_run(t):
    r = subprocess.run(["echo", "hi"], capture_output=True, timeout=t)
    return r.stdout == b"hi\\n"

def op_wait(t):
    return subprocess.Popen(["sleep", "0.05"]).wait(t) == 0

def in_thread(fn, t):
    out = []
    def body():
        try:
            out.append(fn(t))
        except BaseException as exc:
            out.append(repr(exc))
    th = OSThread(target=body)
    th.start()
    th.join(30)
    return out[0] if out else "still waiting"

def in_main(fn, t):
    try:
        return fn(t)
    except BaseException as exc:
        return repr(exc)
"""

# None waits for ever; 2**31 ms is one past C INT_MAX; 1e8 s is far past it.
TIMEOUTS = [None, 2**31 / 1000, 1e8]
# The stdlib's own socket refuses timeouts beyond INT_MAX ms (OverflowError
# from settimeout), and so does its DefaultSelector (epoll_wait takes a C
# int; the patched one is the cooperative epoll, which raises the same), so
# recv and the selector are tried without one only.
OPS = {"select": TIMEOUTS, "selector": [None], "recv": [None],
       "communicate": TIMEOUTS, "run": TIMEOUTS, "wait": TIMEOUTS}


@pytest.mark.parametrize("where", ["main", "thread"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_fd_wait_without_or_with_a_huge_timeout_blocks(op, where):
    code = PRELUDE + f"""
for t in {OPS[op]!r}:
    print(t, in_{where}(op_{op}, t), flush=True)
"""
    r = run_script(code, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:-1] == [f"{t} True" for t in OPS[op]], \
        r.stdout + r.stderr
