"""CPython's own test suites, run under vthreads' patching, in two modes.

    python3 tests/stdlib/run.py                   # every module, both modes
    python3 tests/stdlib/run.py test_queue ...    # some of them
    python3 tests/stdlib/run.py --quick           # the part CI runs (both modes)
    python3 tests/stdlib/run.py --mode patch_all  # one mode
    python3 tests/stdlib/run.py --mode baseline   # unpatched, for comparison
    python3 tests/stdlib/run.py --mode gevent     # gevent.monkey.patch_all()

The modes (see child.py):
- ``run``: each module in a fresh ``python -m vthreads`` process, so the
  test code is the program's main vthread.
- ``patch_all``: a plain ``vthreads.monkey.patch_all()`` at the top, and
  the tests in the main OS thread, as gevent users write programs.
``baseline`` and ``gevent`` are references, with no known-failure list.

A test that makes no progress for ``--stall`` seconds is a hang: the
process is killed and restarted after that test, which is reported, so one
hang never hides the rest of a module.  A process that dies mid-test is
handled the same way.

Each mode has its list of tests expected not to pass, each with a reason:
known_failures_run.txt and known_failures_patch_all.txt.  ``fail``
entries still run (so a fix shows up as "now passes"); ``skip`` entries --
tests that hang, crash, or disturb the tests after them -- are not run at
all.  The exit status is 1 when any test not on its mode's list fails,
errors, hangs or crashes.
"""

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

MODES = ("run", "patch_all")            # checked against their lists
REFERENCES = ("baseline", "gevent")     # measured only


def known_path(mode):
    return os.path.join(HERE, f"known_failures_{mode}.txt")


def _exists(module):
    return importlib.util.find_spec(f"test.{module}") is not None


# test_telnetlib went with telnetlib in 3.13.
MODULES = [m for m in [
    "test_socket", "test_ssl", "test_selectors", "test_select",
    "test_threading", "test_thread", "test_queue", "test_socketserver",
    "test_httplib", "test_urllib2_localnet", "test_subprocess",
    "test_timeout", "test_time", "test_signal", "test_smtplib",
    "test_wsgiref", "test_ftplib", "test_telnetlib",
] if m != "test_telnetlib" or _exists(m)]
# What CI runs on every push, in both modes: the modules that finish in
# seconds.  The full list takes several minutes and is recorded in
# docs/compatibility.md.
QUICK = [m for m in [
    "test_select", "test_selectors", "test_queue", "test_timeout",
    "test_thread", "test_httplib", "test_socketserver",
    "test_urllib2_localnet", "test_time", "test_ssl", "test_smtplib",
    "test_wsgiref", "test_telnetlib",
] if m in MODULES]

BAD = ("fail", "error", "hang", "crash")
START_STALL = 30    # seconds for a child to load its tests (a few, really)


def read_known(path):
    """{test id: (kind, reason)}; a missing reason is an error in the file."""
    known = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[1] not in ("fail", "skip"):
                raise SystemExit(f"{path}:{n}: want 'TEST_ID fail|skip REASON'")
            known[parts[0]] = (parts[1], parts[2])
    return known


def run_module(module, *, mode, exclude, stall, budget, log):
    """Run one module to the end, restarting past hangs and crashes.

    Returns ({test id: outcome}, {test id: detail text}, notes)."""
    outcome, detail, notes = {}, {}, []
    skip = set(exclude)
    deadline = time.monotonic() + budget
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONFAULTHANDLER="1")
    false_starts = 0
    while True:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as p, \
             tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as x:
            x.write("\n".join(sorted(skip | set(outcome))))
        err = tempfile.TemporaryFile("w+")
        cmd = [sys.executable] + (["-m", "vthreads"] if mode == "run" else []) + \
              [os.path.join(HERE, "child.py"), mode, module, p.name, x.name]
        before = len(outcome)
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir(),
                                start_new_session=True)
        current, done, last, seen = None, False, time.monotonic(), 0
        why, began = None, False
        try:
            while True:
                with open(p.name) as f:
                    lines = f.readlines()
                for line in lines[seen:]:
                    if not line.endswith("\n"):
                        break
                    seen += 1
                    last = time.monotonic()
                    rec = json.loads(line)
                    ev = rec["event"]
                    if ev == "begin":
                        began = True
                    elif ev == "start":
                        current = rec["id"]
                    elif ev == "end":
                        outcome[rec["id"]] = rec["outcome"]
                        current = None
                    elif ev == "detail":
                        detail.setdefault(rec["id"], rec["text"])
                    elif ev == "fixture":
                        notes.append(f"fixture error {rec['id']}: {rec['text'][-300:]}")
                    elif ev == "done":
                        done = True
                if proc.poll() is not None:
                    break
                now = time.monotonic()
                if now - last > (stall if began else min(stall, START_STALL)):
                    why = "hang"
                    break
                if now > deadline:
                    why = "budget"
                    break
                time.sleep(0.2)
        finally:
            # Also when this runner is stopped: no child outlives it.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        os.unlink(p.name)
        os.unlink(x.name)
        err.seek(0)
        stderr = err.read()
        err.close()
        log.write(stderr)
        log.flush()
        if done:
            return outcome, detail, notes
        if why == "budget":
            notes.append(f"module budget of {budget:.0f} s spent; stopped")
            if current:
                outcome[current] = "hang"
            return outcome, detail, notes
        if not began and false_starts < 2:
            # Died before loading the tests: a start-up failure, which is
            # a bug to report, but must not hide the module's results.
            false_starts += 1
            notes.append(f"process died at start-up (exit {proc.returncode}); "
                         f"started again: {stderr.strip()[-300:]}")
            continue
        if current is None:
            # Died between tests (an exception that landed late, say):
            # go on with the rest, unless this run got nothing done --
            # then the module itself counts as crashed.
            notes.append(f"process ended outside any test (exit "
                         f"{proc.returncode}); restarted after it")
            if len(outcome) == before:
                tid = f"test.{module}"
                outcome[tid] = "crash"
                detail[tid] = (f"process ended outside any test, exit status "
                               f"{proc.returncode}\n{stderr[-1500:]}")
                return outcome, detail, notes
            continue
        outcome[current] = why or "crash"
        if why is None:
            detail[current] = f"process died, exit status {proc.returncode}"
        else:
            detail[current] = f"no progress for {stall:.0f} s"


def run_mode(mode, modules, args, log):
    """Run ``modules`` in one mode; (table rows, unexpected, fixed, outcomes)."""
    known = read_known(known_path(mode)) if mode in MODES else {}
    not_run = {t for t, (kind, _) in known.items() if kind == "skip"}
    rows, unexpected, fixed, everything = [], [], [], {}
    for m in modules:
        t0 = time.monotonic()
        excl = {t for t in not_run if t.startswith(f"test.{m}.")}
        outcome, detail, notes = run_module(
            m, mode=mode, exclude=excl, stall=args.stall,
            budget=args.budget, log=log)
        secs = time.monotonic() - t0
        everything[m] = outcome
        count = {k: 0 for k in ("pass", "skip", "known", "new")}
        for tid, out in outcome.items():
            if out in ("pass", "skip"):
                count[out] += 1
                if out == "pass" and tid in known:
                    fixed.append(tid)
            elif tid in known:
                count["known"] += 1
            else:
                count["new"] += 1
                unexpected.append((tid, out, detail.get(tid, "")))
        rows.append((m, len(outcome) + len(excl), count["pass"], count["skip"],
                     count["known"], len(excl), count["new"], secs))
        for n in notes:
            print(f"[{mode}] {m}: {n}", file=sys.stderr)
        print(f"[{mode}] {m}: {count['pass']} passed, {count['skip']} skipped, "
              f"{count['known']} known failures, {len(excl)} not run (known), "
              f"{count['new']} unexpected  [{secs:.0f} s]", flush=True)
    return rows, unexpected, fixed, everything


def print_table(mode, rows):
    print(f"\nmode {mode}:")
    print("| module | tests | passed | skipped | known failures | not run (known) | unexpected |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m, total, ok, sk, kn, hg, new, _ in rows:
        print(f"| {m} | {total} | {ok} | {sk} | {kn} | {hg} | {new} |")
    tot = [sum(r[i] for r in rows) for i in range(1, 7)]
    print("| **total** | " + " | ".join(str(v) for v in tot) + " |")


def _stop(signum, frame):
    raise SystemExit(128 + signum)     # through run_module's finally


def main(argv=None):
    signal.signal(signal.SIGTERM, _stop)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*")
    ap.add_argument("--quick", action="store_true", help="only the CI modules")
    ap.add_argument("--mode", default="both",
                    choices=("both",) + MODES + REFERENCES,
                    help="both (the default) is run and patch_all")
    ap.add_argument("--baseline", action="store_true",
                    help="the same as --mode baseline")
    ap.add_argument("--stall", type=float, default=90,
                    help="seconds without progress before a test is a hang")
    ap.add_argument("--budget", type=float, default=900,
                    help="seconds for one module, restarts included")
    ap.add_argument("--json", help="write every outcome to this file")
    ap.add_argument("--log", default=os.devnull,
                    help="where the children's own output goes")
    args = ap.parse_args(argv)
    modules = args.modules or (QUICK if args.quick else MODULES)
    for m in modules:
        if m not in MODULES:
            ap.error(f"{m} is not one of the chosen modules: {', '.join(MODULES)}")
    mode = "baseline" if args.baseline else args.mode
    modes = MODES if mode == "both" else (mode,)

    status, everything, tables = 0, {}, []
    with open(args.log, "a") as log:
        for mo in modes:
            rows, unexpected, fixed, outcomes = run_mode(mo, modules, args, log)
            everything[mo] = outcomes
            tables.append((mo, rows, unexpected, fixed))
    for mo, rows, unexpected, fixed in tables:
        print_table(mo, rows)
        if fixed:
            print(f"\n[{mo}] {len(fixed)} known failures now pass; take them "
                  f"off {os.path.basename(known_path(mo))}:")
            for tid in fixed:
                print("   ", tid)
        if unexpected and mo in MODES:
            print(f"\n[{mo}] {len(unexpected)} unexpected:")
            for tid, out, text in unexpected:
                print(f"--- {tid}: {out}\n{text[-1500:]}")
            status = 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1, sort_keys=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
