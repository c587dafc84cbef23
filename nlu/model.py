"""The trained model: built from nlu/data, deterministic, cached in nlu/build/model.npz.

Two parts: the intent classifier (softmax regression on embedding + letter n-grams), and the risk
exemplars (the embedding of every risk example, benign look-alike and intent example; see risk.py).
The cache is keyed by a hash of every data file, the embedding model's version and MODEL_VERSION
(raise it when features or training change), so a changed example rebuilds it. A missing or stale
cache is rebuilt at run time with a warning rather than failing; nothing is ever downloaded.
Build it ahead with `python -m nlu.build` (`make nlu-model`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from nlu.classifier import Classifier, Matrix, train
from nlu.embedding import Encoder, model_id, windows
from nlu.examples import BENIGN, DATA_DIR, INTENTS, data_files, intent_examples, risk_examples
from nlu.features import Featurizer, inverse_frequency, ngram_counts
from nlu.risk import Exemplars

log = logging.getLogger(__name__)
MODEL_VERSION: Final = "4"
CACHE: Final = Path(__file__).parent / "build" / "model.npz"
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Model:
    fingerprint: str
    featurizer: Featurizer
    intents: Classifier
    risk: Exemplars


def fingerprint(data_dir: Path = DATA_DIR) -> str:
    """A hash of everything the model is built from."""
    digest = hashlib.sha256(f"{MODEL_VERSION}\0{model_id()}\0".encode())
    for path in data_files(data_dir):
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build(encoder: Encoder, data_dir: Path = DATA_DIR) -> Model:
    """Train the intent classifier; gather the risk exemplars (every intent text counts as benign)."""
    intents = intent_examples(data_dir)
    risks = risk_examples(data_dir)
    if not intents or not risks:
        raise ValueError(
            f"{data_dir}: needs intent examples (<lang>.yml) and risk examples (risk/<lang>.yml)"
        )
    texts = sorted({e.text for e in intents} | {e.text for e in risks})
    firsts = [windows(text)[0] for text in texts]
    featurizer = Featurizer(inverse_frequency(ngram_counts(firsts)))
    embeddings = encoder(firsts)
    rows = featurizer.rows(firsts, embeddings)
    row_of = {text: i for i, text in enumerate(texts)}

    def features(texts_in_order: list[str]) -> Matrix:
        return rows[[row_of[t] for t in texts_in_order]]

    intent_head = train(features([e.text for e in intents]), [e.label for e in intents], INTENTS)
    labelled = {e.text: BENIGN for e in intents} | {e.text: e.label for e in risks}  # risk data wins
    risk_texts = sorted(labelled)
    exemplars = Exemplars.of(embeddings[[row_of[t] for t in risk_texts]], [labelled[t] for t in risk_texts])
    return Model(fingerprint(data_dir), featurizer, intent_head, exemplars)


def save(model: Model, path: Path) -> None:
    """Write the model as an .npz whose bytes depend only on the model (fixed zip timestamps)."""
    arrays = {
        "fingerprint": np.array(model.fingerprint),
        "idf": model.featurizer.idf,
        "intent_labels": np.array(model.intents.labels),
        "intent_weights": model.intents.weights,
        "risk_labels": model.risk.labels,
        "risk_vectors": model.risk.vectors.astype(np.float16),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle,
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.require(array, requirements="C"), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", _ZIP_TIME), buffer.getvalue())
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


def load(path: Path) -> Model:
    with np.load(path, allow_pickle=False) as archive:
        return Model(
            str(archive["fingerprint"].item()),
            Featurizer(archive["idf"].astype(np.float32)),
            Classifier(tuple(str(x) for x in archive["intent_labels"]), archive["intent_weights"]),
            Exemplars(archive["risk_vectors"].astype(np.float32), archive["risk_labels"]),
        )


def load_or_build(encoder: Encoder, data_dir: Path = DATA_DIR, cache: Path = CACHE) -> Model:
    """The cached model if it was built from this data; otherwise build it now (and cache it if possible)."""
    wanted = fingerprint(data_dir)
    if cache.exists():
        try:
            model = load(cache)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("NLU model cache %s unreadable (%s); rebuilding", cache, exc)
        else:
            if model.fingerprint == wanted:
                return model
            log.warning("NLU model cache %s is stale (data changed); rebuilding", cache)
    else:
        log.warning("NLU model cache %s missing; building it now (run `make nlu-model` ahead)", cache)
    model = build(encoder, data_dir)
    try:
        save(model, cache)
    except OSError as exc:
        log.warning("could not write NLU model cache %s: %s", cache, exc)
    return model
