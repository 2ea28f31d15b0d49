"""Testing tools: virtual time and a pytest plugin.

- ``MockClock(rate=0.0, autojump_threshold=inf)``: virtual time, after
  trio's.  ``run(main, *args, clock=None, carriers=1)``: like
  ``vthreads.run``, in a runtime of its own on that clock.
- The pytest plugin (vthreads/testing/_pytest.py) is loaded by
  ``pytest -p vthreads.testing`` or, once vthreads is installed, by its
  ``pytest11`` entry point: ``@pytest.mark.vthreads`` runs a test in a
  vthread, ``@pytest.mark.vthreads(clock="autojump")`` on virtual time.

Importing this module does not import pytest: ``pytest_plugins`` below is
read by pytest only, when it registers this module as a plugin.
"""

from ._mockclock import MockClock
from ._run import current_clock, run

__all__ = ["MockClock", "run", "current_clock"]

pytest_plugins = ["vthreads.testing._pytest"]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__qualname__", None) == _name:
        _obj.__module__ = __name__
del _name, _obj
