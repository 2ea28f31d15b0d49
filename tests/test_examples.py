"""The examples run as the README says, and do what they print."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT          # this checkout's vthreads, always
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", name),
                           *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=env)


def test_timeouts_example():
    r = run_example("timeouts.py", "2000")
    assert r.returncode == 0, r.stderr
    m = re.search(r"2000 requests in [\d.]+s: (\d+) ok, (\d+) timed out", r.stdout)
    assert m, r.stdout
    ok, late = int(m.group(1)), int(m.group(2))
    assert ok + late == 2000 and ok > 0 and late > 0
    assert "cancelled_caught=True" in r.stdout


def test_readme_example_runs():
    """The code block under 'Ten lines' in the README, exactly."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split("## Ten lines", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    r = subprocess.run([sys.executable, "-c", block], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fetched 1000 pages, 0 failed; slow one moved on: True"


def _selftest(name, *args, expect):
    r = run_example(name, *args)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert expect in r.stdout
    assert "Warning" not in r.stderr, r.stderr


def test_echo_server_example():
    _selftest("echo_server.py", "--selftest", "200", expect="200 clients echoed: OK")


def test_http_server_example():
    _selftest("http_server.py", "--selftest", "100",
              expect="100 keep-alive clients x 5 requests: OK")


def test_tls_echo_example():
    import pytest
    pytest.importorskip("trustme")
    _selftest("tls_echo.py", "--clients", "30", expect="30 TLS clients echoed: OK")


def test_fetcher_example():
    _selftest("fetcher.py", "--pages", "200", expect="fetched 200 pages")


def test_chat_server_example():
    _selftest("chat_server.py", "--selftest", "20",
              expect="20 chatters all heard each other: OK")


def test_ported_from_eventlet_example():
    """docs/migrating.md's worked port: every slow page times out, every
    other page's digest is right."""
    _selftest("ported_from_eventlet.py", "--pages", "100",
              expect="90 ok, 10 timed out: OK")


def test_deadlock_example_is_reported():
    """examples/deadlock.py, whose output docs/debugging.md shows."""
    r = run_example("deadlock.py")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "vthreads.DeadlockError: all vthreads are asleep - deadlock!" \
        in r.stderr
    for name in ("alice->bob", "bob->alice"):
        assert f"<VThread '{name}' parked on LOCK_ACQUIRE" in r.stderr
    assert "with accounts[dst]:" in r.stderr


def test_leaks_example_finds_the_forgotten_one():
    r = run_example("leaks.py")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "did job 1"
    leaked = [ln for ln in lines if ln.startswith("leaked:")]
    assert len(leaked) == 1, lines
    assert re.fullmatch(r"leaked: <VThread 'forgotten' parked on QUEUE_GET "
                        r"<vthreads\.Queue size=0 maxsize=0 getters=1 "
                        r"putters=0> carrier=\d>", leaked[0]), leaked
