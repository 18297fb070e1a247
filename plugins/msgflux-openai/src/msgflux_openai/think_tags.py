"""Reasoning sent inline in the content, as a leading ``<think>...</think>`` block.

Servers that do not separate a thinking model's reasoning (vLLM without
``--reasoning-parser``, llama.cpp with ``--reasoning-format none``, Groq's
``reasoning_format="raw"``) send it inside the content::

    "<think>\\n15*7 = 105, plus 3\\n</think>\\n\\n108"

``split_think_tags`` splits a whole message; ``ThinkTagSplitter`` does the same for a stream,
where the tags can be cut anywhere between chunks. Only a block at the very start of the
answer (after whitespace) is reasoning: ``<think>`` later in the text is content.

``take_reasoning`` is the decoder's entry point: it does nothing unless
``think_tags_enabled(model)``: the model's ``think_tags`` option when given, else the
provider's ``Quirks.think_tags``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.response import ModelResponse, ModelStreamResponse

__all__ = ["ThinkTagSplitter", "split_think_tags", "take_reasoning", "think_tags_enabled"]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"
_SPLITTER_KEY = "_think_tag_splitter"


class ThinkTagSplitter:
    """Splits a leading ``<think>`` block off streamed content, chunk by chunk.

    ``feed(chunk)`` returns the ``(reasoning, content)`` text that chunk releases; text that
    might still turn out to be part of a tag is held back until the next chunk or
    ``flush()``. Whitespace between the closing tag and the answer is dropped, as is
    whitespace right after the opening tag.
    """

    __slots__ = ("_buffer", "_close", "_open", "_state")

    def __init__(self, open_tag: str = OPEN_TAG, close_tag: str = CLOSE_TAG) -> None:
        self._open = open_tag
        self._close = close_tag
        self._state = "start"  # start, thinking_start, thinking, answer_start, answer
        self._buffer = ""

    def feed(self, text: str) -> tuple[str, str]:
        """The ``(reasoning, content)`` released by ``text``."""
        state = self._state
        if state == "answer" or not text:
            return "", text
        if state == "start":
            return self._feed_start(text)
        if state == "answer_start":
            text = text.lstrip()
            if text:
                self._state = "answer"
            return "", text
        if state == "thinking_start":
            text = text.lstrip()
            if not text:
                return "", ""
            self._state = "thinking"
        return self._feed_thinking(text)

    def flush(self) -> tuple[str, str]:
        """Release what is held back, at the end of the stream."""
        held, self._buffer = self._buffer, ""
        if self._state == "thinking":
            return held, ""  # the answer never came (e.g. the token limit hit mid-thought)
        if self._state == "start":
            return "", held
        return "", ""

    def _feed_start(self, text: str) -> tuple[str, str]:
        held = self._buffer + text
        stripped = held.lstrip()
        if stripped.startswith(self._open):
            self._state = "thinking_start"
            self._buffer = ""
            return self.feed(stripped[len(self._open) :])
        if not stripped or self._open.startswith(stripped):
            self._buffer = held  # whitespace or a tag cut short: wait for more
            return "", ""
        self._state = "answer"
        self._buffer = ""
        return "", held

    def _feed_thinking(self, text: str) -> tuple[str, str]:
        held = self._buffer + text
        end = held.find(self._close)
        if end >= 0:
            self._buffer = ""
            self._state = "answer_start"
            _, content = self.feed(held[end + len(self._close) :])
            return held[:end], content
        keep = _partial_suffix(held, self._close)
        self._buffer = held[len(held) - keep :]
        return held[: len(held) - keep], ""


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


def split_think_tags(text: str) -> tuple[str | None, str]:
    """``(reasoning, answer)`` of a whole message; ``reasoning`` is ``None`` without a block."""
    if not text.lstrip().startswith(OPEN_TAG):
        return None, text
    splitter = ThinkTagSplitter()
    reasoning, content = splitter.feed(text)
    tail_reasoning, tail_content = splitter.flush()
    return (reasoning + tail_reasoning).rstrip(), content + tail_content


def think_tags_enabled(model: ChatCompletionModel) -> bool:
    """The model's ``think_tags`` option when given, else its provider's quirk."""
    chosen = model.options.get("think_tags")
    return bool(model.quirks.think_tags if chosen is None else chosen)


def take_reasoning(
    model: ChatCompletionModel,
    response: ModelResponse | ModelStreamResponse,
    content: str | None,
    *,
    final: bool = False,
) -> str | None:
    """Move a leading ``<think>`` block of ``content`` into ``response``'s reasoning.

    For decoders: call it with a whole message's content (``response`` a
    ``ModelResponse``) or with each stream chunk's content (``final=True`` on the chunk
    that carries ``finish_reason``); it returns the content that remains. It does nothing
    unless ``think_tags_enabled(model)``.
    """
    if not think_tags_enabled(model):
        return content
    from msgflux.models.response import ModelStreamResponse

    if not isinstance(response, ModelStreamResponse):
        if not content:
            return content
        reasoning, answer = split_think_tags(content)
        if reasoning:
            response.add_reasoning(reasoning)
        return answer
    # The splitter's state lives on the stream it splits: one producer per stream, so no
    # lock and no registry outlive it. It is kept in the stream's instance dict, under a name
    # ModelStreamResponse does not declare (a plugin's own state, not part of the response).
    state = vars(response)
    splitter: ThinkTagSplitter | None = state.get(_SPLITTER_KEY)
    if splitter is None:
        splitter = state[_SPLITTER_KEY] = ThinkTagSplitter()
    reasoning, answer = splitter.feed(content or "")
    if final:
        tail_reasoning, tail_answer = splitter.flush()
        reasoning += tail_reasoning
        answer += tail_answer
    if reasoning:
        response.add_reasoning(reasoning)
    return answer
