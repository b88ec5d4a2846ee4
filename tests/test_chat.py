"""Chat on the embedded model, through the same stream the app's chat tab uses."""

from __future__ import annotations

import re
import threading

import pytest

from medllm_local import pipeline
from medllm_local.chat import ChatSettings
from medllm_local.prompts import SYSTEM_PROMPT, chat_messages

ENGLISH_WORDS = {"the", "a", "is", "of", "and", "to", "in", "or", "with", "be", "are", "for"}


def test_clinical_question_gets_an_english_answer_that_stops_by_itself():
    chunks = list(pipeline.chat_stream(
        "A 58-year-old man has crushing central chest pain radiating to the left arm, "
        "sweating and ST elevation in leads II, III and aVF. What is the most likely diagnosis?",
        settings=ChatSettings(max_tokens=512, temperature=0.0),
    ))
    final = chunks[-1]
    assert final.done and final.answer is not None
    assert len(chunks) > 3  # it streamed, token by token
    assert all(b.text.startswith(a.text) for a, b in zip(chunks, chunks[1:-1]))
    answer = final.answer
    assert answer.stop_reason == "stop", f"hit max tokens: {answer.answer[-200:]}"
    assert answer.tokens < 512 and answer.prompt_tokens > 50  # system prompt + case
    words = re.findall(r"[a-z]+", answer.answer.lower())
    assert len(words) >= 5
    assert len(ENGLISH_WORDS & set(words)) >= 2
    assert sum(c.isascii() for c in answer.answer) / len(answer.answer) > 0.97
    for markup in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert markup not in answer.answer


def test_greedy_answers_are_repeatable():
    settings = ChatSettings(max_tokens=40, temperature=0.0)
    first = pipeline.chat_answer("What is the normal range of adult resting heart rate?", None, settings)
    second = pipeline.chat_answer("What is the normal range of adult resting heart rate?", None, settings)
    assert first.answer == second.answer and first.answer


def test_history_is_part_of_the_prompt():
    settings = ChatSettings(max_tokens=16, temperature=0.0)
    alone = pipeline.chat_answer("Repeat the drug I named.", None, settings)
    history = [{"role": "user", "content": "The drug is metformin."},
               {"role": "assistant", "content": "Noted: metformin."}]
    chunks = list(pipeline.chat_stream("Repeat the drug I named.", history, None, settings))
    assert chunks[-1].answer.prompt_tokens > alone.prompt_tokens + 10


def test_stop_event_cancels_generation():
    stop = threading.Event()
    seen = 0
    final = None
    for chunk in pipeline.chat_stream("Write a long essay on the history of medicine.",
                                      settings=ChatSettings(max_tokens=400, temperature=0.0),
                                      stop_event=stop):
        seen += 1
        if seen == 5:
            stop.set()
        final = chunk
    assert final.answer.stop_reason == "cancelled"
    assert final.answer.tokens <= 6


def test_messages_start_with_the_shared_system_prompt():
    messages = chat_messages("q", [{"role": "user", "content": "a"},
                                   {"role": "system", "content": "ignored"}])
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert [m["role"] for m in messages] == ["system", "user", "user"]


@pytest.mark.parametrize("bad", [{"max_tokens": 0}, {"temperature": -1}, {"top_p": 0},
                                 {"n_ctx": 10}])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError):
        ChatSettings(**bad)
