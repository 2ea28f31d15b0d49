"""Two workers take two locks in opposite orders: vthreads.run() reports
the deadlock, as Go's "all goroutines are asleep" does, and the message
carries the dump.  docs/debugging.md, "Deadlocks", shows its output.

    python3 examples/deadlock.py
"""

import vthreads

accounts = {"alice": vthreads.Lock(), "bob": vthreads.Lock()}
both_hold_one = vthreads.Barrier(2)


def transfer(src, dst):
    with accounts[src]:
        both_hold_one.wait()        # make the bad interleaving certain
        with accounts[dst]:
            pass


def main():
    a = vthreads.spawn(transfer, "alice", "bob", name="alice->bob")
    b = vthreads.spawn(transfer, "bob", "alice", name="bob->alice")
    a.join()
    b.join()


vthreads.run(main)
