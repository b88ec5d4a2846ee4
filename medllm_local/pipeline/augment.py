"""Augmentation against the workspace: the workspace's dictionaries, the local model for
paraphrases, and a person's review of augmented pairs that outlives rebuilds.

Augmented pairs are stored as pairs with origin 'augmented', their method and a review
(pending / accepted / rejected). Only accepted ones are written into the train JSONL:
machine-made text reaches a model only after a person has read it (the UI accepts them
in bulk). A rebuild makes the same variants again (fixed seed), and each keeps the
review its identical text had.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from medllm_local.stages.dataset import augment

from medllm_local.stages.chat import answer as chat

from medllm_local.core import models
from medllm_local.core.abbreviations import medical_words
from medllm_local.stages.dataset.build import BuildSettings
from medllm_local.pipeline.clean import user_dictionary, user_words
from medllm_local.core.records import Pair, content_of
from medllm_local.workspace.store import Workspace

USER_SYNONYMS = "synonyms.tsv"  # the user's own groups, in the workspace folder
REVIEWS = ("pending", "accepted", "rejected")


def workspace_vocabulary(workspace: Workspace) -> augment.Vocabulary:
    """The project's dictionaries with the workspace's own additions."""
    return augment.Vocabulary.build(
        user_dictionary(workspace), medical_words() | user_words(workspace),
        augment.load_user_synonyms(workspace.root / USER_SYNONYMS))


def model_rephrase(model: str | None, max_tokens: int) -> augment.Rephrase:
    """Rewordings from a local GGUF (default the embedded model), sampled with the
    variant number as seed, and remembered: the dataset has only a few instruction
    phrasings, so each is sent to the model once per variant."""
    info = models.resolve_model(model or None, kind="gguf")
    if info.kind != "gguf":
        raise models.ModelError(f"{info.name} is not a GGUF; paraphrase runs on GGUF files")
    answers: dict[tuple[str, int], str] = {}

    def rephrase(instruction: str, variant: int) -> str:
        if (instruction, variant) not in answers:
            settings = chat.ChatSettings(max_tokens=max_tokens, temperature=0.8, seed=variant, n_ctx=512)
            final = ""
            for chunk in chat.stream_chat(Path(info.path), augment.PARAPHRASE_PROMPT.format(instruction),
                                          settings=settings):
                final = chunk.text
            answers[(instruction, variant)] = final
        return answers[(instruction, variant)]

    return rephrase


def augment_key(pair: Pair) -> tuple:
    return (pair.document_id, pair.task, pair.augmented, pair.question)


def previous_reviews(workspace: Workspace) -> dict[tuple, str]:
    """The review of every stored augmented pair, by what it says."""
    return {(row["document_id"], row["task"], row["method"], content_of(json.loads(row["messages"]), "user")):
            row["review"] or "pending"
            for row in workspace.query("SELECT * FROM pairs WHERE origin = 'augmented'")}


def augment_train(workspace: Workspace, settings: BuildSettings,
                  train_pairs: list[Pair]) -> tuple[list[tuple[Pair, str]], dict]:
    """Variants of the train pairs by the build's methods, each with the review its
    text had before (new ones pending), and the counts for the report."""
    methods = settings.augment
    rephrase = (model_rephrase(settings.paraphrase_model, settings.paraphrase_tokens)
                if "paraphrase" in methods else None)
    made = augment.augment_pairs(train_pairs, methods, settings.augment_per_pair,
                                 workspace_vocabulary(workspace), settings.seed, rephrase)
    reviews = previous_reviews(workspace)
    reviewed = [(pair, reviews.get(augment_key(pair), "pending")) for pair in made.pairs]
    return reviewed, {"methods": methods, "per_pair": settings.augment_per_pair,
                      "source_pairs": len(train_pairs), "tried": dict(made.tried),
                      "made": dict(made.kept)}


def augmentation_counts(reviewed: list[tuple[Pair, str]], stats: dict, dropped_by_scan: int) -> dict:
    """The report's augmentation block: made per method, reviews, what went to train."""
    reviews = Counter(review for _, review in reviewed)
    return {**stats, "pairs": len(reviewed), "dropped_by_residual_scan": dropped_by_scan,
            **{review: reviews.get(review, 0) for review in REVIEWS},
            "in_train": reviews.get("accepted", 0),
            "per_pair": round(len(reviewed) / stats["source_pairs"], 2) if stats["source_pairs"] else 0.0}


def review_augmented(workspace: Workspace, accept: bool, pair_ids: list[int] | None = None,
                     method: str | None = None) -> dict:
    """A person's verdict on augmented pairs: the given ones, or every pending one (of
    one method). Takes effect in the JSONL at the next build with augmentation."""
    sql, args = "SELECT id FROM pairs WHERE origin = 'augmented'", []
    if pair_ids is not None:
        sql += f" AND id IN ({','.join('?' * len(pair_ids))})"
        args += list(pair_ids)
    else:
        sql += " AND COALESCE(review, 'pending') = 'pending'"
    if method:
        sql += " AND method = ?"
        args.append(method)
    ids = [row["id"] for row in workspace.query(sql, tuple(args))]
    if pair_ids is not None and set(pair_ids) - set(ids):
        raise ValueError("no augmented pair with id "
                         + ", ".join(map(str, sorted(set(pair_ids) - set(ids))))
                         + (f" of method {method}" if method else ""))
    review = "accepted" if accept else "rejected"
    with workspace.transaction() as conn:
        conn.executemany("UPDATE pairs SET review = ? WHERE id = ?", [(review, i) for i in ids])
    return {"review": review, "pairs": ids}
