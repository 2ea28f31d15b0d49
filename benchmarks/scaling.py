"""How vthreads scales with carriers: 1..N carriers on whatever interpreter
runs this, with plain threads as the reference for the CPU-bound case.

    python benchmarks/scaling.py [--carriers 1,2] [--repeat 5]
                                 [--only cpu,mixed,server,threads]
                                 [--json FILE]
    python3 benchmarks/scaling.py --plot FILE.json [FILE.json ...] --out PNG

Workloads (the ones issue 13 names):
  cpu     200 vthreads, each a fixed CPU loop (about 5 ms on 3.11);
  threads the same 200 loops on a ThreadPoolExecutor of N OS threads:
          what the interpreter itself gives, the reference for ``cpu``;
  mixed   2,000 vthreads x 20 rounds of about 0.2 ms of CPU and a
          ``vthreads.sleep(0.001)``;
  server  a TCP server with a vthread per connection, a JSON document per
          request, 100 client vthreads x 200 requests in the same runtime
          (stdlib sockets under ``vthreads.monkey.patch_all()``).

Each (workload, carriers) pair runs in a fresh subprocess; the pairs
alternate, ``--repeat`` rounds, and the table shows the median wall time,
the speed-up against 1 carrier of the same round (median over rounds), and
the spread: the share of the vthreads (server: of the connections) that
each carrier ran, which is what placement decides.  The CPU loops are
calibrated once per interpreter, in this process, so every child does the
same work.  Only the ratios mean anything on a shared machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ("cpu", "threads", "mixed", "server")


def spin(n):
    t = 0
    for i in range(n):
        t += i * i
    return t


def calibrate(seconds):
    """Loop count of ``spin`` that takes about ``seconds`` here."""
    n = 10_000
    while True:
        t0 = time.perf_counter()
        spin(n)
        dt = time.perf_counter() - t0
        if dt > 0.05:
            return max(1, int(n * seconds / dt))
        n *= 2


# --- the workloads, each run in a child process ----------------------------

def _carrier_index():
    import vthreads
    return vthreads.current()._carrier.index


def w_cpu(carriers, units):
    import vthreads
    where = []

    def job():
        spin(units)
        where.append(_carrier_index())

    def main():
        vts = [vthreads.spawn(job) for _ in range(200)]
        for vt in vts:
            vt.join()

    t0 = time.perf_counter()
    vthreads.run(main, carriers=carriers)
    return time.perf_counter() - t0, where


def w_threads(carriers, units):
    from concurrent.futures import ThreadPoolExecutor
    t0 = time.perf_counter()
    with ThreadPoolExecutor(carriers) as ex:
        list(ex.map(lambda _: spin(units), range(200)))
    return time.perf_counter() - t0, []


def w_mixed(carriers, units):
    import vthreads
    where = []

    def job():
        for _ in range(20):
            spin(units)
            vthreads.sleep(0.001)
        where.append(_carrier_index())

    def main():
        vts = [vthreads.spawn(job) for _ in range(2000)]
        for vt in vts:
            vt.join()

    t0 = time.perf_counter()
    vthreads.run(main, carriers=carriers)
    return time.perf_counter() - t0, where


def w_server(carriers, units):
    import vthreads
    import vthreads.monkey
    vthreads.monkey.patch_all()
    import socket
    clients, requests = 100, 200
    where = []

    def serve_one(conn):
        where.append(_carrier_index())
        f = conn.makefile("rwb")
        with conn, f:
            for line in f:
                doc = json.loads(line)
                doc["total"] = sum(doc["values"])
                f.write(json.dumps(doc).encode() + b"\n")
                f.flush()

    def client(port, k):
        with socket.create_connection(("127.0.0.1", port)) as s, \
                s.makefile("rwb") as f:
            for i in range(requests):
                f.write(json.dumps({"id": i, "client": k,
                                    "values": list(range(i % 50))}
                                   ).encode() + b"\n")
                f.flush()
                doc = json.loads(f.readline())
                assert doc["id"] == i and doc["client"] == k, doc

    def main():
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(256)
        port = lsock.getsockname()[1]

        def accept_loop():
            while True:
                conn, _ = lsock.accept()
                vthreads.spawn(serve_one, conn)

        acceptor = vthreads.spawn(accept_loop)
        t0 = time.perf_counter()
        cs = [vthreads.spawn(client, port, k) for k in range(clients)]
        for c in cs:
            c.join()
        dt = time.perf_counter() - t0
        acceptor.cancel()
        lsock.close()
        return dt

    return vthreads.run(main, carriers=carriers), where


RUN = {"cpu": w_cpu, "threads": w_threads, "mixed": w_mixed,
       "server": w_server}


def child(workload, carriers, units):
    dt, where = RUN[workload](carriers, units)
    spread = [where.count(i) for i in range(carriers)] if where else []
    print(json.dumps({"time": dt, "spread": spread}))


# --- the parent: rounds, table, JSON ----------------------------------------

def run_child(workload, carriers, units):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH")
                  else [])))
    r = subprocess.run([sys.executable, __file__, "--child", workload,
                        str(carriers), str(units)],
                       env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"{workload} with {carriers} carriers failed:\n"
                         f"{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def interpreter():
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    v = sys.version_info
    return f"CPython {v.major}.{v.minor}.{v.micro}" + ("" if gil else "t")


def measure(workloads, counts, repeat):
    units = {"cpu": calibrate(0.005), "threads": None,
             "mixed": calibrate(0.0002), "server": 0}
    units["threads"] = units["cpu"]
    samples = {(w, n): [] for w in workloads for n in counts}
    for _ in range(repeat):
        for w in workloads:
            for n in counts:
                samples[w, n].append(run_child(w, n, units[w]))
    results = []
    for w in workloads:
        for n in counts:
            got = samples[w, n]
            base = samples[w, counts[0]]
            speedups = [b["time"] / s["time"] for b, s in zip(base, got)]
            spreads = [s["spread"] for s in got if s["spread"]]
            results.append({
                "workload": w, "carriers": n,
                "time": statistics.median(s["time"] for s in got),
                "speedup": statistics.median(speedups),
                "spread": [round(statistics.median(
                    sp[i] / sum(sp) for sp in spreads) * 100)
                    for i in range(n)] if spreads else [],
            })
    return {"interpreter": interpreter(), "repeat": repeat,
            "cpus": len(os.sched_getaffinity(0)), "results": results}


def print_table(data):
    print(f"\n{data['interpreter']}, {data['cpus']} CPUs, "
          f"{data['repeat']} rounds, medians; speed-up against "
          f"{data['results'][0]['carriers']} carrier(s) of the same round")
    print("| workload | carriers | time s | speed-up | spread % |")
    print("|---|---|---|---|---|")
    for r in data["results"]:
        sp = "/".join(map(str, r["spread"])) or "-"
        print(f"| {r['workload']} | {r['carriers']} | {r['time']:.3f} | "
              f"{r['speedup']:.2f}x | {sp} |")


def plot(files, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets = [json.load(open(f)) for f in files]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4),
                             squeeze=False)
    for i, (ax, data) in enumerate(zip(axes[0], sets), 1):
        by = {}
        for r in data["results"]:
            by.setdefault(r["workload"], []).append(
                (r["carriers"], r["speedup"]))
        top = max(n for pts in by.values() for n, _ in pts)
        ax.plot([1, top], [1, top], ":", color="grey", label="ideal")
        for w, pts in by.items():
            label = "plain threads (cpu)" if w == "threads" else w
            ax.plot([n for n, _ in pts], [s for _, s in pts], "o-",
                    label=label)
        run = f", run {i} of {len(sets)}" if len(sets) > 1 else ""
        ax.set_title(f"{data['interpreter']}, {data['cpus']} CPUs{run}")
        ax.set_xlabel("carriers (threads)")
        ax.set_ylabel("speed-up against 1")
        ax.set_xticks(range(1, top + 1))
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--carriers", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--json")
    ap.add_argument("--plot", nargs="+")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img",
                                                  "scaling.png"))
    args = ap.parse_args()
    if args.plot:
        plot(args.plot, args.out)
        return
    workloads = [w for w in args.only.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; choose from {WORKLOADS}")
    counts = sorted({int(n) for n in args.carriers.split(",")})
    data = measure(workloads, counts, args.repeat)
    print_table(data)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()
