#!/usr/bin/env bash
# Wheels for the sweep path (`phasescape run` and `report`) on the lent GPU machine, downloaded here into .whl/.
# That image (Python 3.12, x86-64) has torch, numpy, pandas, pyarrow, matplotlib, scipy, pyyaml, aiohttp, grpcio
# and protobuf but no Ray, and nothing can be fetched there. Ray's minimal install plus its `tune` extra is enough
# (`connect` starts Ray without a dashboard); what that needs beyond the image is pinned below, at the versions
# this project is tested with here. Optuna is only for `search: optuna` and studies: --optuna adds it.
# Ray's wheel holds a 32 MB Java jar (ray/jars/) that Python never loads; it is dropped so that the wheels and the
# code fit the device tool's 64 MiB together.
# Usage (here, from the repository root): bash bench/gpu_wheels.sh [--optuna]; then carry .whl in device runs.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-/work/main/.venv/bin/python}
[[ -x $python ]] || python=python3
wheels=(
    ray==2.60.0
    jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1  # ray
    tensorboardX==2.6.5 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5  # tune
)
if [[ ${1:-} == --optuna ]]; then
    wheels+=(optuna==5.0.0 alembic==1.20.1 sqlalchemy==2.1.9 mako==1.4.3 colorlog==6.12.0)
fi

# .whl/ must never be committed; info/exclude is shared by every worktree of this repository.
exclude="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")"
grep -qxF /.whl/ "$exclude" 2>/dev/null || echo /.whl/ >>"$exclude"

rm -rf .whl && mkdir .whl
platforms=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do platforms+=(--platform "${p}_x86_64"); done
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "${wheels[@]}"

# Drop ray/jars/ and its RECORD lines, so the repacked wheel stays valid (pip checks RECORD's hashes).
"$python" - .whl/ray-*.whl <<'PY'
import os
import sys
import zipfile

path = sys.argv[1]
with zipfile.ZipFile(path) as src, zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        if info.filename.startswith("ray/jars/"):
            continue
        data = src.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            data = b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"ray/jars/"))
        dst.writestr(info, data)
os.replace(path + ".tmp", path)
PY

# Every requirement of the carried wheels (Ray's with its tune extra) must be carried or already in the image;
# the image's package list is the device notes' (KINDS.md), read when this workplace has it.
kinds=/work/.library/device/KINDS.md
if [[ -f $kinds ]]; then
    "$python" - "$kinds" .whl/*.whl <<'PY'
import re
import sys
import zipfile

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

image_line = next(line for line in open(sys.argv[1]) if line.startswith("nvidia-h200:") and "Packages:" in line)
have = {canonicalize_name(n) for n in re.split(r",\s*", image_line.split("Packages:", 1)[1].strip(" .\n"))}
carried = {}
for path in sys.argv[2:]:
    with zipfile.ZipFile(path) as wheel:
        meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        text = wheel.read(meta).decode()
    name = canonicalize_name(re.search(r"^Name: (.+)$", text, re.M).group(1))
    carried[name] = [Requirement(r) for r in re.findall(r"^Requires-Dist: (.+)$", text, re.M)]
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_machine": "x86_64", "platform_system": "Linux", "implementation_name": "cpython"}
missing = set()
for name, requirements in carried.items():
    extras = {"", "tune"} if name == "ray" else {""}
    for req in requirements:
        if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in extras):
            dep = canonicalize_name(req.name)
            if dep not in carried and dep not in have:
                missing.add(f"{dep} (for {name})")
print("requirements covered by the image and .whl/" if not missing else "MISSING: " + ", ".join(sorted(missing)))
sys.exit(1 if missing else 0)
PY
fi
ls -l .whl | awk 'NR > 1 {printf "%8.1f MiB  %s\n", $5 / 1048576, $9}'
du -cb .whl/*.whl | awk 'END {printf "%8.1f MiB  total (the device tool carries 64 MiB with the code)\n", $1 / 1048576}'
