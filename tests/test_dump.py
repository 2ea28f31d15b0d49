"""vthreads.dump(): every vthread with what it waits on, and blocked carriers."""

import threading
import time

import pytest

import vthreads
from conftest import run_script, wait_until


def parked_in_here(ev):
    ev.wait()


def test_dump_lists_parked_vthreads_with_reason_and_stack(one_carrier):
    ev = vthreads.Event()
    vts = [vthreads.spawn(parked_in_here, ev, name=f"waiter-{i}") for i in range(3)]
    assert wait_until(lambda: all("EVENT_WAIT" in repr(v) for v in vts))
    report = vthreads.dump(file=False)
    for i in range(3):
        assert f"'waiter-{i}' parked on EVENT_WAIT" in report
    # Each vthread's own frame -- the last one to park is the one whose
    # stack the idle carrier dozes on (Carrier.doze_in_place).
    assert report.count("in parked_in_here") == 3
    assert "== carrier 0" in report and "BLOCKED" not in report
    ev.set()
    for v in vts:
        v.join(10)


def hog_the_carrier(started, stop):
    started.set()
    while not stop.is_set():          # never parks: the carrier is stuck
        pass


def test_dump_reports_a_carrier_blocked_by_a_busy_vthread(one_carrier):
    stop = threading.Event()
    started = threading.Event()
    vt = vthreads.spawn(hog_the_carrier, started, stop)
    assert started.wait(10)
    try:
        report = vthreads.dump(file=False, timeout=0.2)
    finally:
        stop.set()
    vt.join(10)
    assert "carrier 0" in report and "BLOCKED" in report
    assert "in hog_the_carrier" in report


def dump_timed(timeout):
    t0 = time.monotonic()
    report = vthreads.dump(file=False, timeout=timeout)
    return time.monotonic() - t0, report


def carrier_section(report, index):
    return report.split(f"== carrier {index} ")[1].split("== carrier")[0]


def test_dump_from_a_vthread_describes_its_own_carrier_at_once(carriers):
    def dumper():
        took, report = dump_timed(5)
        return took, report, vthreads.current()._carrier.index

    took, report, mine = vthreads.spawn(dumper, name="dumper").result(30)
    assert took < 2, took       # nobody waited out the timeout
    assert "BLOCKED" not in report, report
    for i in range(carriers):
        assert f"== carrier {i} (thread" in report, report
    here = carrier_section(report, mine)
    assert f"'dumper' running carrier={mine}" in here, report
    assert "in dumper" in here, report


def test_dump_from_a_vthread_parks_while_a_blocked_carrier_is_waited_for(
        two_carriers):
    stop = threading.Event()
    started = threading.Event()
    hog = vthreads.spawn(hog_the_carrier, started, stop)
    assert started.wait(10)
    try:
        # Only the other carrier comes back to its hub to place these.
        dumper = vthreads.spawn(dump_timed, 60, name="dumper")
        assert wait_until(lambda: "parked on DUMP" in repr(dumper)), dumper
        # Its carrier is free for others meanwhile.
        assert vthreads.spawn(lambda: 1).result(10) == 1
    finally:
        stop.set()
    took, report = dumper.result(30)    # the hog's carrier answers now
    hog.join(10)
    assert "BLOCKED" not in report, report
    assert took < 30, took


def test_dump_without_a_time_limit_from_a_vthread(carriers):
    # None waits as long as the others take (here: not long).
    took, report = vthreads.spawn(dump_timed, None).result(10)
    assert "BLOCKED" not in report and "'VThread-" in report, report
    # A negative timeout is refused, as everywhere in vthreads ...
    with pytest.raises(ValueError):
        vthreads.spawn(dump_timed, -1).result(10)
    # ... and the carrier runs on.
    assert vthreads.spawn(lambda: 1).result(10) == 1


def test_dump_in_the_program_of_python_m_vthreads(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(
        "import time, vthreads\n"
        "t0 = time.monotonic()\n"
        "report = vthreads.dump(file=False, timeout=5)\n"
        "print(time.monotonic() - t0 < 2, 'BLOCKED' not in report,\n"
        "      'running' in report)\n")
    r = run_script("import runpy, sys; sys.argv = ['vthreads', %r]; "
                   "runpy.run_module('vthreads', run_name='__main__', "
                   "alter_sys=True)" % str(script))
    assert r.stdout.split() == ["True", "True", "True"], (r.stdout, r.stderr)


def test_dump_without_runtime():
    vthreads.shutdown(timeout=10)
    assert "no runtime" in vthreads.dump(file=False)


DUMP_PROGRAM = """
import sys, time, vthreads
from vthreads.monkey import get_original
e = vthreads.Event()
vthreads.spawn(e.wait, name="waiter")
if sys.argv[1:] == ["stuck"]:
    started = vthreads.Event()
    def stuck():
        started.set()
        get_original("time", "sleep")(30)
    vthreads.spawn(stuck, name="stuck")
    started.wait()
print("ready", flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("how", ["python -m vthreads", "patch_all"])
def test_the_dump_signal_writes_a_dump_of_a_running_program(tmp_path, how):
    # Under python -m vthreads a parked vthread is listed.  With
    # patch_all() in a plain program, the main thread is no vthread, so a
    # blocking call can hold the one carrier: the dump says BLOCKED.
    import os, signal, subprocess, sys
    script = tmp_path / "stuck.py"
    out = tmp_path / "dumps.txt"
    if how == "patch_all":
        script.write_text("import vthreads.monkey; "
                          "vthreads.monkey.patch_all()\n" + DUMP_PROGRAM)
        cmd = [sys.executable, str(script), "stuck"]
        last = 'get_original("time", "sleep")(30)'   # what holds the carrier
    else:
        script.write_text(DUMP_PROGRAM)
        cmd = [sys.executable, "-m", "vthreads", str(script)]
        last = "fd waits"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, VTHREADS_DUMP_SIGNAL="USR2",
               VTHREADS_DUMP_FILE=str(out), VTHREADS_CARRIERS="1")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        for n in (1, 2):                # a second signal appends a second
            p.send_signal(signal.SIGUSR2)
            assert wait_until(lambda: out.exists() and out.read_text().count(
                "=== vthreads dump, pid") == n
                and out.read_text().rstrip().endswith(last), 15), (
                out.read_text() if out.exists() else "no dump file")
        assert p.poll() is None         # the program goes on
    finally:
        p.kill()
        p.wait()
    text = out.read_text()
    assert f"pid {p.pid}" in text
    if how == "patch_all":
        assert "== carrier 0 (thread" in text and "is BLOCKED" in text
    else:
        assert "<VThread 'waiter' parked on EVENT_WAIT" in text


def test_a_bad_dump_signal_is_a_clear_error_at_import():
    r = run_script("import vthreads",
                   env={"VTHREADS_DUMP_SIGNAL": "USR9"})
    assert r.returncode == 1
    assert ("ValueError: VTHREADS_DUMP_SIGNAL must name a signal (USR2, "
            "SIGUSR2 or a number), not 'USR9'") in r.stderr


def test_without_the_variable_no_handler_is_installed():
    r = run_script("import signal, vthreads\n"
                   "print(signal.getsignal(signal.SIGUSR2) is signal.SIG_DFL)",
                   env={"VTHREADS_DUMP_SIGNAL": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"
