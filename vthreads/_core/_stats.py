"""statistics(): a snapshot of the runtime's counters, for logs and health
checks.

Every figure is read without stopping the carriers: each counter is
written by its own carrier only and read here as it stands, so the
snapshot is not one instant across carriers -- a vthread that moves from
ready to running while it is taken may be counted in either -- but every
figure is one the runtime really had.

Threads: any.  ``live`` sets are copied (``list(set)`` is one operation:
the GIL, or the set's own lock on free-threaded builds) before their
vthreads are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from .. import _originals as _o
from ._runtime import current_runtime
from ._to_thread import _pool

__all__ = ["statistics", "Statistics", "CarrierStatistics"]


@dataclass(frozen=True)
class CarrierStatistics:
    index: int
    ready: int                  # run-queue length
    live: int                   # started vthreads not yet finished
    timers: int
    blocked: bool               # reported by the monitor, not back yet
    blocked_for: float          # seconds, 0.0 when not blocked
    switches: int               # greenlets its scheduler picked
    parks: int
    steals: int                 # unstarted vthreads taken from others
    sleeps: int                 # times it slept (poller or doze)
    # What follows has defaults so that code building one keeps working.
    extra: bool = False         # started by compensation; retires idle
    blocked_since: float | None = None  # time.monotonic() seconds
    holder: int | None = None   # id of the vthread holding it, if known
    waiting_behind: tuple[int, ...] = ()    # ids of the started vthreads
                                # pinned to it while it is blocked


@dataclass(frozen=True)
class Statistics:
    carriers: tuple[CarrierStatistics, ...] = ()     # one per carrier
    vthreads: MappingProxyType[str, int] = field(
        default_factory=lambda: MappingProxyType({}))   # state -> count
    injected: int = 0           # spawned from outside, not yet taken
    switches: int = 0
    parks: int = 0
    steals: int = 0
    sleeps: int = 0
    monitor_threshold: float = 0.0      # 0.0: no monitor
    monitor_reports: int = 0
    helper_threads: int = 0             # to_thread's pool
    helper_threads_idle: int = 0
    helper_jobs_queued: int = 0
    extra_carriers: int = 0             # running now (in ``carriers``)
    extra_carriers_started: int = 0     # since the runtime started
    max_carriers: int = 0               # 0: none runs


def statistics() -> Statistics:
    """A ``Statistics`` snapshot of the running runtime (all zeros when
    none runs)."""
    pool = _pool.statistics()
    rt = current_runtime()
    if rt is None:
        return Statistics(helper_threads=pool["threads"],
                          helper_threads_idle=pool["idle"],
                          helper_jobs_queued=pool["queued"])
    monitor = rt.monitor
    stalled = {}
    reports = 0
    if monitor is not None:
        with monitor._lock:
            stalled = dict(monitor.stalled)
            reports = monitor.reports
    now = _o.monotonic()
    per: list[CarrierStatistics] = []
    states: dict[str, int] = {}
    carriers = rt.carriers          # copied on write: read it once
    for c in carriers:
        live = list(c.live)
        for vt in live:
            states[vt._state] = states.get(vt._state, 0) + 1
        stall = stalled.get(c.index)
        if stall is not None and c.ticks != stall.ticks:
            stall = None            # back since the monitor's last look
        per.append(CarrierStatistics(
            index=c.index, ready=len(c.runq), live=len(live),
            timers=len(c.timers), blocked=stall is not None,
            blocked_for=0.0 if stall is None else now - stall.since,
            switches=c.ticks, parks=c.parks, steals=c.steals,
            sleeps=c.sleeps, extra=c.extra,
            blocked_since=None if stall is None else stall.since,
            holder=None if stall is None else stall.holder,
            waiting_behind=() if stall is None else stall.behind))
    return Statistics(
        carriers=tuple(per), vthreads=MappingProxyType(states),
        injected=len(rt.injected),
        switches=sum(c.switches for c in per),
        parks=sum(c.parks for c in per), steals=sum(c.steals for c in per),
        sleeps=sum(c.sleeps for c in per),
        monitor_threshold=0.0 if monitor is None else monitor.threshold,
        monitor_reports=reports, helper_threads=pool["threads"],
        helper_threads_idle=pool["idle"], helper_jobs_queued=pool["queued"],
        extra_carriers=sum(c.extra for c in per),
        extra_carriers_started=rt.extra_started,
        max_carriers=rt.max_carriers)
