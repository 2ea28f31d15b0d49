"""cffi builder for vthreads._spot_c, the parking spots in native/spot.c.

setup.py builds it when cffi is importable (see pyproject.toml); without
it vthreads/_core/_spot.py falls back to plain locks.
"""

import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

ffibuilder = FFI()
ffibuilder.cdef("""
typedef struct vt_spot { ...; } vt_spot;
int vt_park(vt_spot *s, long spin_ns, long follow_ns, long blind_ns,
            long timeout_ns);
void vt_unpark(vt_spot *s, vt_spot *waker);
""")
with open(os.path.join(HERE, "spot.c")) as f:
    ffibuilder.set_source("vthreads._spot_c", f.read())

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
