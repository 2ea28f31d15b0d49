"""Builds the optional C helpers in native/ through cffi.

Everything else is in pyproject.toml.  cffi is a build requirement except
on Python 3.13, where it does not build for the free-threaded variant and
requirement markers cannot tell the two apart.  The extension is marked
optional: without cffi, or without a working C compiler, the package
installs without it and runs on its pure-Python fallbacks.
"""

import importlib.util
import os
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def native_extensions():
    if importlib.util.find_spec("cffi") is None:
        return []
    sys.path.insert(0, os.path.join(HERE, "native"))
    try:
        from build_spot import ffibuilder
    finally:
        sys.path.pop(0)
    ext = ffibuilder.distutils_extension(
        tmpdir=os.path.join(HERE, "build", "cffi"), verbose=False)
    ext.optional = True
    return [ext]


setup(ext_modules=native_extensions())
