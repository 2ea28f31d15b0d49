"""A cooperative subprocess.Popen.

``Popen.communicate`` has a fast path for one pipe and no timeout: a plain
``file.read()``, which blocks in C on the pipe and so blocks the carrier.
This subclass always takes the selector path (by passing a timeout far
beyond any real one), where the patched ``_PopenSelector`` parks and the
pipes are read with ``os.read`` after readiness.  Everything else is the
stdlib's own code; ``wait`` reaches ``os.waitpid`` (patched: a pidfd).

Threads: any.
"""

import subprocess as _subprocess

_FOREVER = 10.0 ** 9          # seconds; keeps communicate() off its fast path


class Popen(_subprocess.Popen):
    def communicate(self, input=None, timeout=None):
        if timeout is None:
            timeout = _FOREVER
        return super().communicate(input, timeout)
