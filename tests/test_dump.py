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


# --- format="json" -------------------------------------------------------------

import json                                           # noqa: E402


def hold_then_wait(lock, held, release):
    with lock:
        held.set()
        release.wait()


def wait_for_the_lock(lock, seconds):
    with vthreads.move_on_after(seconds):
        with lock:
            pass


def test_dump_json_shows_the_lock_a_vthread_waits_on_its_group_parent_and_deadline(
        one_carrier):
    lock = vthreads.Lock()
    held, release = vthreads.Event(), vthreads.Event()

    def parent():
        with vthreads.TaskGroup() as tg:
            holder = tg.spawn(hold_then_wait, lock, held, release, name="holder")
            held.wait()
            waiter = tg.spawn(wait_for_the_lock, lock, 600, name="waiter")
            while "LOCK_ACQUIRE" not in repr(waiter):
                vthreads.sleep(0.001)
            report = vthreads.dump(file=False, format="json")
            release.set()
        return report, vthreads.current().ident, holder.ident, waiter.ident, id(tg)

    report, me, holder, waiter, tg = vthreads.spawn(parent, name="parent").result(30)
    data = json.loads(report)
    assert data["format"] == "vthreads-dump" and data["version"] == 1
    assert data["running"] is True and data["pid"] > 0
    assert [c["index"] for c in data["carriers"]] == [0]
    assert data["carriers"][0]["blocked"] is False
    vts = {v["id"]: v for v in data["vthreads"]}
    assert set(vts) >= {me, holder, waiter}, vts
    w = vts[waiter]
    assert w["name"] == "waiter" and w["state"] == "parked"
    assert w["carrier"] == 0
    assert w["reason"] == "LOCK_ACQUIRE"
    assert w["waiting_on"]["type"] == "vthreads.Lock"
    assert w["waiting_on"]["id"] == id(lock)
    assert w["parent"] == me and vts[holder]["parent"] == me
    assert w["taskgroup"] == {"id": tg, "owner": me}
    assert vts[me]["taskgroup"] is None and vts[me]["parent"] is None
    # Innermost first: its own move_on_after, then its group's scope.
    inner, group_scope = w["scopes"][:2]
    assert inner["owner"] == waiter and 0 < inner["deadline_in"] <= 600
    assert inner["deadline"] == pytest.approx(data["monotonic"] + inner["deadline_in"], abs=1e-3)
    assert group_scope["owner"] == me and group_scope["deadline"] is None
    assert w["age"] >= 0 and w["cancel_requested"] is False
    assert w["stack"][0]["function"] == "wait_for_the_lock"
    assert vts[me]["state"] == "running" and vts[me]["reason"] is None
    assert vts[me]["stack"][-1]["function"] == "parent"


def test_dump_json_lists_a_blocked_carrier_with_its_thread_stack(one_carrier):
    stop = threading.Event()
    started = threading.Event()
    vt = vthreads.spawn(hog_the_carrier, started, stop)
    assert started.wait(10)
    try:
        data = json.loads(vthreads.dump(file=False, format="json", timeout=0.2))
    finally:
        stop.set()
    vt.join(10)
    (c,) = data["carriers"]
    assert c["blocked"] is True
    assert any(f["function"] == "hog_the_carrier" for f in c["stack"])


def test_dump_json_with_no_runtime():
    vthreads.shutdown(timeout=10)
    data = json.loads(vthreads.dump(file=False, format="json"))
    assert data["running"] is False and data["vthreads"] == []
    assert vthreads.dump(file=False) == "vthreads: no runtime is running\n"


@pytest.mark.parametrize("bad", ["xml", "JSON", "", None, 1])
def test_dump_refuses_an_unknown_format(bad):
    with pytest.raises(ValueError, match="format"):
        vthreads.dump(file=False, format=bad)


def test_dump_lists_vthreads_not_started_yet(one_carrier):
    def spawner():
        vt = vthreads.spawn(lambda: None, name="not-yet")
        data = json.loads(vthreads.dump(file=False, format="json"))
        return vt.ident, data

    ident, data = vthreads.spawn(spawner).result(30)
    (new,) = [v for v in data["vthreads"] if v["id"] == ident]
    assert new["state"] == "new" and new["name"] == "not-yet" and new["stack"] == []
