"""The ``<think>`` splitter (``msgflux_openai.think_tags``) that vLLM's ``think_tags`` relies on.

Pure unit tests: whole messages, and streams cut at every possible place.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgflux_openai.think_tags import ThinkTagSplitter, split_think_tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\n15*7=105, +3\n</think>\n\n108", ("15*7=105, +3", "108")),
        ("  <think>a</think>b", ("a", "b")),
        ("<think></think>\n\nanswer", ("", "answer")),
        ("no reasoning here", (None, "no reasoning here")),
        (
            "The tag <think>x</think> mid-answer is content",
            (None, "The tag <think>x</think> mid-answer is content"),
        ),
        ("<think>cut off by the token limit", ("cut off by the token limit", "")),
        ("<think>a</think>b</think>c", ("a", "b</think>c")),
    ],
)
def test_whole_messages(text, expected):
    assert split_think_tags(text) == expected


def stream(chunks):
    splitter = ThinkTagSplitter()
    reasoning, content = [], []
    for chunk in chunks:
        r, c = splitter.feed(chunk)
        reasoning.append(r)
        content.append(c)
    r, c = splitter.flush()
    return "".join([*reasoning, r]), "".join([*content, c])


def test_tags_cut_between_chunks():
    chunks = ["<thi", "nk>\nStep", " one.</th", "ink", ">\n", "\nAns", "wer."]
    assert stream(chunks) == ("Step one.", "Answer.")


def test_content_is_released_as_soon_as_it_cannot_be_a_tag():
    splitter = ThinkTagSplitter()
    assert splitter.feed("<") == ("", "")
    assert splitter.feed("b>bold</b>") == ("", "<b>bold</b>")
    assert splitter.feed(" more") == ("", " more")


def test_reasoning_is_released_while_the_model_thinks():
    splitter = ThinkTagSplitter()
    assert splitter.feed("<think>first ") == ("first ", "")
    assert splitter.feed("second </") == ("second ", "")  # "</" may start the closing tag
    assert splitter.feed("p> third") == ("</p> third", "")
    assert splitter.feed("</think>done") == ("", "done")


THINKING = st.text(alphabet="ab <>/\nthink", max_size=30).filter(lambda s: "</think>" not in s)
ANSWER = st.text(alphabet="ab <>/\nthink", max_size=30)


@given(
    reasoning=THINKING,
    answer=ANSWER,
    lead=st.sampled_from(["", " ", "\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=8),
)
def test_any_chunking_gives_the_whole_message_split(reasoning, answer, lead, cuts):
    text = f"{lead}<think>{reasoning}</think>{answer}"
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    streamed_reasoning, streamed_answer = stream(chunks)
    whole_reasoning, whole_answer = split_think_tags(text)
    assert streamed_reasoning.rstrip() == whole_reasoning
    assert streamed_answer == whole_answer == answer.lstrip()


@given(
    text=ANSWER.filter(lambda s: not s.lstrip().startswith("<think>")),
    cuts=st.lists(st.integers(0, 40), max_size=6),
)
def test_text_without_a_leading_block_is_all_content(text, cuts):
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert stream(chunks) == ("", text)
