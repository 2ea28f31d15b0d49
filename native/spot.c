/* Parking spots: one thread sleeps, any thread wakes it, without the GIL.
 *
 * A spot is a permit, as in Java's LockSupport: vt_unpark() makes it
 * available, vt_park() takes it or waits for it.  Spurious returns are
 * allowed, so callers re-check their own condition in a loop.
 *
 * Why C: on a GIL build a thread that wakes another and then goes on
 * running Python holds the GIL, so the woken thread, scheduled at once,
 * only goes back to sleep on the GIL.  Here the parker first spins on the
 * permit with the GIL released (cffi releases it around every call), and
 * once it has the permit it keeps spinning until the thread that woke it
 * parks too (`in_park`), that is until the GIL is free for it, bounded by
 * `follow_ns`.  A ping-pong between two threads then needs no sleep and no
 * futex call at all.  A waker that does not park on a spot (an asyncio
 * loop thread) is not named; the parker then spins a fixed `blind_ns`,
 * the few microseconds such a waker usually takes to get back to its own
 * sleep.  Only when the first spin runs out does it sleep, in a futex on
 * `word`.
 *
 * word: 0 empty, 1 permit available, 2 a parker sleeps in the futex.
 * in_park: 1 while the owner is inside vt_park (not holding the GIL).
 * woken_by: the spot of the thread that last unparked this one, or NULL.
 * timed_out: the owner's last park ended by its timeout; the next one
 *   then sleeps without spinning (a carrier woken by its own timers has
 *   nobody to spin for: a 1 kHz ticker would spin 5% of a CPU away).
 *   Only the owner touches it.
 * The other fields are accessed with atomics only.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct vt_spot {
    int word;
    int in_park;
    struct vt_spot *woken_by;
    int timed_out;
} vt_spot;

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static long futex(int *addr, int op, int val, const struct timespec *rel)
{
    return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, rel, NULL, 0);
}

/* The permit is ours: consume it, then give our waker a moment to let go
 * of the GIL. */
static int take(vt_spot *s, long follow_ns, long blind_ns)
{
    vt_spot *w = LOAD(&s->woken_by);
    long end;
    STORE(&s->word, 0);
    STORE(&s->in_park, 0);
    s->timed_out = 0;
    if (w == s)
        return 1;
    if (w != NULL) {
        end = now_ns() + follow_ns;
        while (!LOAD(&w->in_park) && now_ns() < end)
            cpu_relax();
    } else if (blind_ns > 0) {
        end = now_ns() + blind_ns;
        while (now_ns() < end)
            cpu_relax();
    }
    return 1;
}

/* 1: the permit was taken.  0: timeout_ns (< 0: none) passed first.
 * -1: interrupted by a signal; the caller lets Python run its handlers
 * and parks again. */
int vt_park(vt_spot *s, long spin_ns, long follow_ns, long blind_ns,
            long timeout_ns)
{
    long start = now_ns();
    long deadline = timeout_ns < 0 ? -1 : start + timeout_ns;
    int expected;

    STORE(&s->in_park, 1);
    if (spin_ns > 0 && !s->timed_out) {
        long end = start + spin_ns;
        do {
            for (int i = 0; i < 64; i++) {
                if (LOAD(&s->word) == 1)
                    return take(s, follow_ns, blind_ns);
                cpu_relax();
            }
        } while (now_ns() < end);
    }
    expected = 0;
    if (!__atomic_compare_exchange_n(&s->word, &expected, 2, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return take(s, follow_ns, blind_ns);             /* it was 1 */
    for (;;) {
        struct timespec rel, *relp = NULL;
        if (deadline >= 0) {
            long left = deadline - now_ns();
            if (left <= 0) {
                expected = 2;
                if (__atomic_compare_exchange_n(&s->word, &expected, 0, 0,
                                                __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE)) {
                    STORE(&s->in_park, 0);
                    s->timed_out = 1;
                    return 0;
                }
                return take(s, follow_ns, blind_ns);     /* unparked meanwhile */
            }
            rel.tv_sec = left / 1000000000L;
            rel.tv_nsec = left % 1000000000L;
            relp = &rel;
        }
        if (futex(&s->word, FUTEX_WAIT, 2, relp) != 0 && errno == EINTR
                && LOAD(&s->word) == 2) {
            expected = 2;
            if (__atomic_compare_exchange_n(&s->word, &expected, 0, 0,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                STORE(&s->in_park, 0);
                return -1;
            }
        }
        if (LOAD(&s->word) == 1)
            return take(s, follow_ns, blind_ns);
    }
}

/* Make the permit available and wake the parker if it sleeps.  `waker`:
 * the calling thread's own spot, or NULL. */
void vt_unpark(vt_spot *s, vt_spot *waker)
{
    STORE(&s->woken_by, waker);
    if (__atomic_exchange_n(&s->word, 1, __ATOMIC_ACQ_REL) == 2)
        futex(&s->word, FUTEX_WAKE, 1, NULL);
}
