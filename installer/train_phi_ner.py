#!/usr/bin/env python3
"""Train the clinical identifier NER that de-identification ships in
medllm_local/data/phi_ner (run once on a development machine; the app only loads it):

    python installer/train_phi_ner.py [--notes 6000] [--max-steps 4000]

Why: spaCy's English model learned names from capitalised news text, so it misses names
in ALL-CAPS and lower-case clinical notes and takes "Denies" or "Protonix" for people.
This model reads names, places and facilities from their context and word shape. It is
trained on synthetic notes from installer/phi_ner_notes.py, a generator written apart
from the benchmarks (bench/deid_*.py) and from the rules (medllm_local/stages/deid/), from
ACI-Bench train and MTS-Dialog training text only; its validation and test splits are
never seen. The data card (medllm_local/data/phi_ner/README.md) records what it was
trained on and how it scored on a dev set of the same generator with another seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "medllm_local" / "data" / "phi_ner"
sys.path.insert(0, str(ROOT / "installer"))

LABELS = ("PERSON", "LOCATION", "FACILITY")


def doc_bin(nlp, examples):
    """Examples as a spaCy DocBin; spans that do not fall on token edges are widened to
    them (a name glued to punctuation), and counted."""
    from spacy.tokens import DocBin

    bin_, widened = DocBin(), 0
    for text, spans in examples:
        doc = nlp.make_doc(text)
        ents = []
        for start, end, label in spans:
            span = doc.char_span(start, end, label=label)
            if span is None:
                span = doc.char_span(start, end, label=label, alignment_mode="expand")
                widened += 1
            if span is not None and not any(span.start < e.end and e.start < span.end for e in ents):
                ents.append(span)
        doc.ents = ents
        bin_.add(doc)
    return bin_, widened


def config(max_steps: int):
    """spaCy's CPU 'efficiency' NER config: a hash-embedding CNN over lower-case form,
    prefix, suffix and shape (case is one feature among four, not the whole signal)."""
    from spacy.cli.init_config import init_config

    cfg = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)
    cfg["training"]["max_steps"] = max_steps
    cfg["training"]["max_epochs"] = 0
    cfg["training"]["eval_frequency"] = max(1, min(500, max_steps // 4))
    cfg["training"]["patience"] = 2000
    cfg["training"]["seed"] = 0
    cfg["training"]["batcher"]["size"]["start"] = 100
    cfg["training"]["batcher"]["size"]["stop"] = 1000
    # more hash rows than spaCy's default: notes carry many rare words (names, drugs),
    # and fewer collisions cost memory, not speed
    cfg["components"]["tok2vec"]["model"]["embed"]["rows"] = [20000, 2000, 5000, 2500]
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=14000, help="training notes to generate")
    parser.add_argument("--dev-notes", type=int, default=600, help="dev notes (another seed)")
    parser.add_argument("--max-steps", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import spacy
    from phi_ner_notes import make_examples
    from spacy.cli.train import train

    started = time.time()
    nlp = spacy.blank("en")
    train_examples = make_examples(args.notes, seed=0)
    dev_examples = make_examples(args.dev_notes, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_bin, widened = doc_bin(nlp, train_examples)
        dev_bin, _ = doc_bin(nlp, dev_examples)
        train_bin.to_disk(tmp / "train.spacy")
        dev_bin.to_disk(tmp / "dev.spacy")
        cfg = config(args.max_steps)
        cfg.to_disk(tmp / "config.cfg")
        train(tmp / "config.cfg", tmp / "model",
              overrides={"paths.train": str(tmp / "train.spacy"), "paths.dev": str(tmp / "dev.spacy")})
        best = tmp / "model" / "model-best"
        meta = json.loads((best / "meta.json").read_text())
        if args.out.exists():
            shutil.rmtree(args.out)
        shutil.copytree(best, args.out)
    performance = meta.get("performance", {})
    per_type = performance.get("ents_per_type", {})
    counts = {label: sum(1 for _, spans in train_examples for s in spans if s[2] == label)
              for label in LABELS}
    lines = [
        "# Clinical identifier NER (PERSON, LOCATION, FACILITY)",
        "",
        "Used by medllm_local/stages/deid/engine.py beside Presidio, spaCy's English model and the rules.",
        "Rebuild with `python installer/train_phi_ner.py` (spaCy "
        f"{spacy.__version__}, CPU, {time.time() - started:.0f} s).",
        "",
        "## Training data",
        f"- {args.notes} synthetic notes from installer/phi_ner_notes.py (seed 0): "
        + ", ".join(f"{counts[label]} {label}" for label in LABELS) + " spans;",
        f"  {widened} spans widened to token edges.",
        "- Clinical filler: ACI-Bench train notes (CC BY 4.0) and MTS-Dialog training set",
        "  (CC BY 4.0) from ../shared/data, plus AgentClinic findings (see their licences);",
        "  the ACI-Bench validation notes and MTS-Dialog validation set are not used.",
        "- Names and places: 1990 US Census names (public domain), GeoNames towns",
        "  (CC BY 4.0), and names and places the generator invents.",
        "- The generator was written without reading the benchmarks or the rules, so the",
        "  benchmarks measure it on forms it was not built from.",
        "",
        "## Dev set (same generator, seed 1, "
        f"{args.dev_notes} notes)",
        f"- precision {performance.get('ents_p', 0):.3f}, recall {performance.get('ents_r', 0):.3f}, "
        f"F {performance.get('ents_f', 0):.3f}",
    ]
    for label in LABELS:
        scores = per_type.get(label, {})
        lines.append(f"- {label}: P {scores.get('p', 0):.3f} R {scores.get('r', 0):.3f} F {scores.get('f', 0):.3f}")
    lines += ["", "What the engine scores on independent notes is in README.md (bench/deid_heldout.py)."]
    (args.out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
