"""The project's own clinical identifier NER: persons, places and facilities in notes of
any letter case and style.

spaCy's English model learned names from capitalised news text; this small model
(spaCy tok2vec + NER, trained by installer/train_phi_ner.py on synthetic notes, data card
in medllm_local/data/phi_ner/README.md) reads them from context and word shape. It runs
on the folded text beside Presidio, and its hits pass through the same clinical-word
filters as spaCy's (stages/deid/engine.py).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parents[2] / "data" / "phi_ner"
# The model's labels are the engine's finding types.
LABELS = frozenset({"PERSON", "LOCATION", "FACILITY"})
SCORE = 0.85
RECOGNIZER = "phi_ner"


@contextlib.contextmanager
def numpy_matmul_ops():
    """Build spaCy models inside this block for their layers to multiply matrices with
    numpy's BLAS (OpenBLAS, tuned per CPU at run time) instead of thinc's default BLIS
    build. Measured on the 2-core AMD EPYC CI machine: a 9,600 x 288 by 288 x 288 product
    in 16 ms against 47 ms, the engine 39 % faster, the same findings (bench/deid.py
    prints both). A model keeps the ops it was built with."""
    from thinc.api import use_ops

    with use_ops("numpy", use_blis=False):
        yield


@functools.lru_cache(maxsize=1)
def load_phi_ner():
    """The shipped model, loaded once per process."""
    import spacy

    if not (MODEL_DIR / "meta.json").exists():
        raise FileNotFoundError(f"{MODEL_DIR}: the identifier NER model is missing; "
                                "rebuild it with `python installer/train_phi_ner.py`")
    with numpy_matmul_ops():
        return spacy.load(MODEL_DIR)


def phi_ner_results(texts: list[str], batch_size: int = 16) -> list[list]:
    """Presidio results (so the engine filters them like spaCy's) for each text."""
    from presidio_analyzer import RecognizerResult

    out = []
    for doc in load_phi_ner().pipe(texts, batch_size=batch_size):
        out.append([RecognizerResult(ent.label_, ent.start_char, ent.end_char, SCORE,
                                     recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: RECOGNIZER})
                    for ent in doc.ents if ent.label_ in LABELS])
    return out
