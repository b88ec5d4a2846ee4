"""Chat: streaming answers from a GGUF through llama-cpp-python.

The model's own chat template (stored in the GGUF) formats the conversation; the system
prompt comes from core/prompts.py. On a CUDA build every layer is offloaded to the GPU.
The UI and the CLI both call ``stream_chat`` (pipeline.chat_answer collects it). A ranked
differential is generated under a JSON-schema grammar, so it always parses into
DifferentialItems.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medllm_local.core.prompts import DIFFERENTIAL_JSON_NOTE, chat_messages
from medllm_local.core.records import ChatAnswer
from medllm_local.core.settings import Settings, setting


@dataclass
class ChatSettings(Settings):
    """How answers are generated (the CLI's chat options and the Chat tab's settings)."""

    max_tokens: int = setting(512, "most tokens in one answer", minimum=1, maximum=8192)
    temperature: float = setting(0.2, "0 is greedy (repeatable)", minimum=0, maximum=2)
    top_p: float = setting(0.95, "nucleus sampling mass", above=0, maximum=1)
    repeat_penalty: float = setting(1.1, ">1 discourages loops", minimum=0.5, maximum=2)
    seed: int = setting(0, "sampling seed, for repeatable answers")
    n_ctx: int = setting(4096, "context window in tokens", minimum=256, maximum=131072)


@dataclass
class ChatChunk:
    """What a stream yields: the answer so far, and at the end the complete answer."""

    text: str
    done: bool = False
    answer: ChatAnswer | None = None


class _ModelCache:
    """The loaded model: loading takes seconds, a chat turn should not. Only one model
    is kept (an 8B model fills most of a 24 GB card): asking for another one, or another
    context size, frees the first. llama.cpp contexts are not thread-safe, so the model
    has a lock held for each answer."""

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._model: tuple[object, threading.Lock] | None = None
        self._lock = threading.Lock()
        # Free the model before the interpreter tears down the modules its finalizer
        # needs (else llama.cpp prints a TypeError at every exit).
        atexit.register(self.close_all)

    def get(self, path: Path, n_ctx: int) -> tuple[object, threading.Lock]:
        key = (str(path), n_ctx)
        with self._lock:
            if self._key != key:
                self._close()
                self._model = (load_llama(path, n_ctx), threading.Lock())
                self._key = key
            return self._model

    def _close(self) -> None:
        if self._model is not None:
            llm, lock = self._model
            with lock:  # wait for an answer in progress
                llm.close()
        self._model, self._key = None, None

    def close_all(self) -> None:
        with self._lock:
            self._close()


_cache = _ModelCache()


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def load_llama(path: Path, n_ctx: int = 4096):
    """Open a GGUF with every layer on the GPU when this llama.cpp build has one."""
    import llama_cpp

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such GGUF file")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx,
                          n_gpu_layers=-1 if gpu_offload_supported() else 0, verbose=False)
    trained = llm._model.n_ctx_train()  # no public accessor in llama-cpp-python 0.3.36
    if n_ctx > trained > 0:  # more context than the model knows: only wasted memory
        llm.close()
        raise ValueError(f"n_ctx {n_ctx} is larger than this model's trained context ({trained})")
    return llm


def stream_chat(
    model_path: Path,
    user_text: str,
    history: list[dict[str, str]] | None = None,
    settings: ChatSettings | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[ChatChunk]:
    """Stream an answer to ``user_text`` after ``history`` (OpenAI-style messages).

    Yields the growing answer; the last chunk has ``done=True`` and the ChatAnswer.
    Setting ``stop_event`` ends generation early (stop_reason "cancelled")."""
    if not user_text.strip():
        raise ValueError("the question is empty")
    settings = settings or ChatSettings()
    llm, lock = _cache.get(Path(model_path), settings.n_ctx)
    messages = chat_messages(user_text, history)
    started = time.perf_counter()
    text, tokens, stop_reason = "", 0, "length"
    with lock:
        stream = llm.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            delta = choice.get("delta", {}).get("content")
            if delta:
                text += delta
                tokens += 1
                yield ChatChunk(text)
            if choice.get("finish_reason"):
                stop_reason = choice["finish_reason"]
            if stop_event is not None and stop_event.is_set():
                stop_reason = "cancelled"
                break
        prompt_tokens = max(llm.n_tokens - tokens, 0)
    answer = ChatAnswer(
        answer=text.strip(),
        tokens=tokens,
        prompt_tokens=prompt_tokens,
        seconds=round(time.perf_counter() - started, 3),
        stop_reason=stop_reason,
        model=str(model_path),
    )
    yield ChatChunk(answer.answer, done=True, answer=answer)


# -- ranked differential with structured output -----------------------------------------
LIKELIHOODS = ("high", "moderate", "low")
# Printable ASCII without '"' and '\': one character is one byte, and no escapes, so the
# longest answer the grammar admits is known in bytes, hence in tokens (a token the
# grammar accepts is never empty). The first character is not a space.
_TEXT_FIRST, _TEXT_REST = r"[!#-\[\]-~]", r"[ -!#-\[\]-~]"


class DifferentialError(RuntimeError):
    """A differential answer that is not the JSON its schema describes."""


@dataclass
class DifferentialSettings(Settings):
    """The bounds of a structured differential. They bound the grammar, so the longest
    possible answer is known and always fits the token budget (never cut off mid-JSON)."""

    max_diagnoses: int = setting(5, "most diagnoses in the ranked list", minimum=1, maximum=10)
    max_findings: int = setting(2, "most supporting (and most opposing) findings per diagnosis",
                                minimum=0, maximum=6)
    max_chars: int = setting(60, "longest diagnosis or finding, in characters", minimum=10, maximum=200)


@dataclass
class DifferentialItem:
    """One diagnosis of a ranked differential (rank = position in the list)."""

    diagnosis: str
    likelihood: str  # one of LIKELIHOODS
    supporting_findings: list[str]
    opposing_findings: list[str]


@dataclass
class Differential:
    """A ranked differential, most likely first, and the answer it was parsed from."""

    items: list[DifferentialItem]
    answer: ChatAnswer  # answer.answer holds the JSON text as generated
    # entries the model put in the list that describe the patient instead of naming a
    # condition ("A 72-year-old."): left out of the ranking, and said
    not_diagnoses: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str:
        if not self.not_diagnoses:
            return ""
        shown = "; ".join(repr(text) for text in self.not_diagnoses[:3])
        if not self.items:
            return (f"the model named no diagnosis, only descriptions of the case ({shown}): it "
                    "needs more training, or a larger base model")
        return f"left out, as no diagnosis: {shown}"


def differential_schema(settings: DifferentialSettings | None = None) -> dict:
    """The JSON schema of a differential answer, bounded by ``settings``."""
    settings = settings or DifferentialSettings()
    text = {"type": "string",
            "pattern": f"^{_TEXT_FIRST}{_TEXT_REST}{{0,{settings.max_chars - 1}}}$"}
    findings = {"type": "array", "items": text, "maxItems": settings.max_findings}
    item = {"type": "object", "additionalProperties": False,
            "properties": {"diagnosis": text, "likelihood": {"enum": list(LIKELIHOODS)},
                           "supporting_findings": findings, "opposing_findings": findings},
            "required": ["diagnosis", "likelihood", "supporting_findings", "opposing_findings"]}
    return {"type": "object", "additionalProperties": False, "required": ["differential"],
            "properties": {"differential": {"type": "array", "items": item, "minItems": 1,
                                            "maxItems": settings.max_diagnoses}}}


def differential_token_budget(settings: DifferentialSettings | None = None) -> int:
    """Tokens enough for the longest answer the grammar admits: its byte length with
    every string and array at its maximum, plus one optional space after each
    structural character (the grammar's ``space`` rule), plus the end-of-turn token."""
    settings = settings or DifferentialSettings()
    text = "x" * settings.max_chars
    findings = [text] * settings.max_findings
    longest = json.dumps({"differential": [
        {"diagnosis": text, "likelihood": max(LIKELIHOODS, key=len),
         "supporting_findings": findings, "opposing_findings": findings}
    ] * settings.max_diagnoses}, separators=(",", ":"))
    return len(longest) + sum(longest.count(c) for c in '{}[],:"') + 1


# A small model fills the "diagnosis" slot with the case's own words ("A 72-year-old.",
# "The patient presents with chest pain"): a description of the patient is no diagnosis.
_PATIENT_DESCRIPTION = re.compile(
    r"^\s*(?:(?:an?|the|this)\s+)?(?:\d+[\s-]*(?:years?|yrs?|y/?o|months?)\b|patient\b|pt\b|"
    r"(?:man|woman|male|female|boy|girl|child|infant)\s+(?:with|who|aged|of)\b)|"
    r"\b\d+[\s-]*(?:year|month)s?[\s-]+old\b|"
    r"\b(?:presents?|presented|presenting|complains?|reports?)\b", re.IGNORECASE)


def is_diagnosis(text: str) -> bool:
    """Whether a differential's entry names a condition rather than describing the
    patient or the visit."""
    words = re.findall(r"[A-Za-z]+", text)
    return bool(words) and not _PATIENT_DESCRIPTION.search(text) and len(words) <= 12


def parse_differential(text: str, settings: DifferentialSettings | None = None
                       ) -> list[DifferentialItem]:
    """The items of a differential answer, checked against its schema (the grammar
    should make every check pass; this says which one failed if not)."""
    settings = settings or DifferentialSettings()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DifferentialError(f"the answer is not JSON ({error.msg} at character {error.pos})")
    if not isinstance(data, dict) or set(data) != {"differential"}:
        raise DifferentialError('expected an object with one key, "differential"')
    entries = data["differential"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= settings.max_diagnoses:
        raise DifferentialError(f"expected 1 to {settings.max_diagnoses} diagnoses")
    pattern = re.compile(differential_schema(settings)["properties"]["differential"]["items"]
                         ["properties"]["diagnosis"]["pattern"])
    items = []
    for rank, entry in enumerate(entries, 1):
        fields = {f.name for f in dataclasses.fields(DifferentialItem)}
        if not isinstance(entry, dict) or set(entry) != fields:
            raise DifferentialError(f"diagnosis {rank}: expected the keys {', '.join(sorted(fields))}")
        if entry["likelihood"] not in LIKELIHOODS:
            raise DifferentialError(f"diagnosis {rank}: likelihood {entry['likelihood']!r} is not "
                                    f"one of {', '.join(LIKELIHOODS)}")
        for key in ("supporting_findings", "opposing_findings"):
            if not isinstance(entry[key], list) or len(entry[key]) > settings.max_findings:
                raise DifferentialError(f"diagnosis {rank}: {key} must be a list of at most "
                                        f"{settings.max_findings}")
        for value in [entry["diagnosis"], *entry["supporting_findings"], *entry["opposing_findings"]]:
            if not isinstance(value, str) or not pattern.match(value):
                raise DifferentialError(f"diagnosis {rank}: {value!r} is not a text of 1 to "
                                        f"{settings.max_chars} printable characters")
        items.append(DifferentialItem(  # the grammar lets a text end in spaces
            entry["diagnosis"].strip(), entry["likelihood"],
            [f.strip() for f in entry["supporting_findings"]],
            [f.strip() for f in entry["opposing_findings"]]))
    return items


def differential(
    model_path: Path,
    user_text: str,
    settings: ChatSettings | None = None,
    bounds: DifferentialSettings | None = None,
) -> Differential:
    """A ranked differential for the case in ``user_text`` (a differential question made
    with prompts.case_prompt), generated under llama.cpp's JSON-schema grammar, so the
    answer always parses. ``settings.max_tokens`` is replaced by the grammar's bound."""
    from llama_cpp import LlamaGrammar

    settings = settings or ChatSettings()
    bounds = bounds or DifferentialSettings()
    budget = differential_token_budget(bounds)
    llm, lock = _cache.get(Path(model_path), settings.n_ctx)
    messages = chat_messages(f"{user_text.strip()}\n\n{DIFFERENTIAL_JSON_NOTE}")
    # from_json_schema raises on a schema it cannot convert; response_format would fall
    # back to free JSON silently, and the bounds would be lost.
    grammar = LlamaGrammar.from_json_schema(json.dumps(differential_schema(bounds)), verbose=False)
    started = time.perf_counter()
    with lock:
        # llama-cpp-python would quietly shorten max_tokens to what the context has left,
        # and the JSON would be cut off: check first (content + ~8 template tokens a turn).
        prompt_tokens = sum(len(llm.tokenize(m["content"].encode(), add_bos=False)) + 8
                            for m in messages)
        if prompt_tokens + budget > settings.n_ctx:
            raise ValueError(f"the case (~{prompt_tokens} tokens) and the longest differential "
                             f"({budget} tokens) exceed the context of {settings.n_ctx} tokens: "
                             "shorten the case, lower the bounds, or raise n_ctx")
        result = llm.create_chat_completion(
            messages=messages, grammar=grammar, max_tokens=budget,
            temperature=settings.temperature, top_p=settings.top_p,
            repeat_penalty=settings.repeat_penalty, seed=settings.seed)
    choice, usage = result["choices"][0], result["usage"]
    answer = ChatAnswer(answer=choice["message"]["content"] or "",
                        tokens=usage["completion_tokens"], prompt_tokens=usage["prompt_tokens"],
                        seconds=round(time.perf_counter() - started, 3),
                        stop_reason=choice["finish_reason"] or "stop", model=str(model_path))
    if answer.stop_reason == "length":  # the bound makes this unreachable; say it plainly if not
        raise DifferentialError(f"the differential was cut off after {answer.tokens} tokens")
    ranked, not_diagnoses = [], []  # ranked as given, without the entries that are no diagnosis
    for item in parse_differential(answer.answer, bounds):
        if is_diagnosis(item.diagnosis):
            ranked.append(item)
        else:
            not_diagnoses.append(item.diagnosis)
    return Differential(ranked, answer, not_diagnoses)
