"""A vthread waits on a queue that nobody else holds: vthreads.leaks()
finds it, while the healthy waiters are left out.  docs/debugging.md,
"Leaks", shows its output.

    python3 examples/leaks.py
"""

import vthreads

jobs = vthreads.Queue()             # reachable: a module global


def worker():
    while (job := jobs.get()) is not None:
        print("did", job)


def forgotten():
    replies = vthreads.Queue()      # nobody else will ever see it
    return replies.get()


def main():
    w = vthreads.spawn(worker, name="worker")
    vthreads.spawn(forgotten, name="forgotten")
    vthreads.spawn(vthreads.sleep, 3600, name="sleeper")
    jobs.put("job 1")
    while vthreads.statistics().vthreads.get("parked", 0) < 3:
        vthreads.sleep(0.001)       # until the three others are parked
    for vt in vthreads.leaks():
        print("leaked:", vt)
    jobs.put(None)
    w.join()


vthreads.run(main)
