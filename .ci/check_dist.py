"""Check what `python -m build` made against the source tree.

    python3 .ci/check_dist.py DIST_DIR [--helper yes|no|any] [--wheel WHEEL]

The wheel must hold every file git tracks under vthreads/ (the modules of
_core, _sync, _io, _poller, the integrations, py.typed), and the C helper
when --helper yes, and LICENSE in its dist-info; the sdist must hold those too, and what building the
helper from it needs (setup.py, native/).  Prints what it checked; exits 1
naming what is missing.  --wheel checks that wheel instead of DIST_DIR's
(one built from the sdist elsewhere).
"""

import argparse
import glob
import os
import subprocess
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SDIST_NEEDS = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
               "CHANGELOG.md", "LICENSE", "native/spot.c", "native/build_spot.py"]


def tracked_package_files():
    out = subprocess.run(["git", "ls-files", "vthreads"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def one(pattern):
    found = glob.glob(pattern)
    if len(found) != 1:
        sys.exit(f"check_dist: expected one {pattern}, found {found}")
    return found[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dist")
    ap.add_argument("--helper", choices=["yes", "no", "any"], default="any")
    ap.add_argument("--wheel")
    args = ap.parse_args()
    wheel = args.wheel or one(os.path.join(args.dist, "vthreads-*.whl"))
    sdist = one(os.path.join(args.dist, "vthreads-*.tar.gz"))
    package = tracked_package_files()
    assert "vthreads/py.typed" in package, "py.typed is not tracked"

    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as tar:
        top = os.path.basename(sdist)[:-len(".tar.gz")]
        in_sdist = {n[len(top) + 1:] for n in tar.getnames()}

    missing = [f"wheel: {f}" for f in package if f not in in_wheel]
    missing += [f"sdist: {f}" for f in package + SDIST_NEEDS
                if f not in in_sdist]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in in_wheel):
        missing.append("wheel: *.dist-info/licenses/LICENSE")
    helper = sorted(n for n in in_wheel if n.startswith("vthreads/_spot_c."))
    if args.helper == "yes" and not helper:
        missing.append("wheel: vthreads/_spot_c.*.so (the C helper)")
    if args.helper == "no" and helper:
        missing.append(f"wheel: has {helper}, expected none")
    if missing:
        sys.exit("check_dist: missing\n  " + "\n  ".join(missing))
    print(f"check_dist: {os.path.basename(wheel)} holds all {len(package)} "
          f"tracked vthreads/ files, C helper: {helper or 'none'}; "
          f"{os.path.basename(sdist)} holds them and {len(SDIST_NEEDS)} "
          f"build files")


if __name__ == "__main__":
    main()
