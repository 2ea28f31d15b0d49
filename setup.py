"""Builds the optional C helpers in native/ through cffi.

Everything else is in pyproject.toml.  cffi is a build requirement except
on Python 3.13, where it does not build for the free-threaded variant and
requirement markers cannot tell the two apart; without cffi the package
installs without the helpers and runs on its pure-Python fallbacks.
"""

import importlib.util

from setuptools import setup

if importlib.util.find_spec("cffi") is None:
    setup()
else:
    setup(cffi_modules=["native/build_spot.py:ffibuilder"])
