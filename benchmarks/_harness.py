"""Side-by-side benchmark runner.

Each (benchmark, contender) pair runs in a fresh subprocess, so memory
figures are not polluted and no library's import affects another.  The
contenders run interleaved -- A B C A B C ... -- ``repeat`` times, and the
median of each is reported next to its ratio to vthreads, measured in this
same run.  On a shared, noisy machine only those ratios mean anything.
"""

import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_one(module, bench, contender, n, python=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    code = (f"import json, {module} as m; "
            f"print(json.dumps(m.BENCHES[{bench!r}][{contender!r}]({n})))")
    r = subprocess.run([python or sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(module, bench, contenders, n, repeat, key, higher_is_better,
            python=None, base="vthreads"):
    """Run every contender ``repeat`` times, interleaved; print a table."""
    samples = {c: [] for c in contenders}
    errors = {}
    for _ in range(repeat):
        for c in contenders:
            res = run_one(module, bench, c, n, python)
            if "error" in res:
                errors[c] = res["error"]
            else:
                samples[c].append(res)
    rows = {}
    for c, got in samples.items():
        if got:
            rows[c] = {k: statistics.median(s[k] for s in got)
                       for k in got[0] if isinstance(got[0][k], (int, float))}
    base_name = base
    base = rows.get(base_name, {}).get(key)
    print(f"\n## {bench}  (n={n}, {repeat} interleaved runs, median; "
          f"ratio = {base_name} vs contender on '{key}', >1 means "
          f"{base_name} is better)")
    cols = sorted({k for r in rows.values() for k in r})
    print("| contender | " + " | ".join(cols) + " | ratio |")
    print("|---" * (len(cols) + 2) + "|")
    for c in contenders:
        if c in errors and c not in rows:
            print(f"| {c} | unavailable: {errors[c]} |")
            continue
        r = rows[c]
        if base is None or not r.get(key):
            ratio = "-"
        elif higher_is_better:
            ratio = f"{base / r[key]:.2f}"
        else:
            ratio = f"{r[key] / base:.2f}"
        vals = " | ".join(_fmt(r.get(k)) for k in cols)
        print(f"| {c} | {vals} | {ratio} |")
    return rows


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if v < 100 else f"{v:,.0f}"
    return f"{v:,}"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pctl(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))
    return values[k]
