"""Property test: any fragmentation and interleaving of any set of calls reassembles to them.

Each call's arguments (a generated JSON object) are cut into random fragments; the id and the
name arrive in the first fragment (OpenAI), in a later one (late ids), or in every fragment
(llama.cpp); the fragments of all calls are then interleaved at random, keeping each call's
own order, as parallel calls stream.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from msgflux.tools import ToolCallAggregator

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_arguments = st.dictionaries(st.text(max_size=5), _json, max_size=4)
_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True)


@st.composite
def call_streams(draw: Any) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    count = draw(st.integers(min_value=1, max_value=5))
    ids = draw(
        st.lists(st.text(min_size=1, max_size=8), min_size=count, max_size=count, unique=True)
    )
    indexes = draw(st.permutations(range(count)))
    calls = []
    per_call: list[list[tuple[Any, ...]]] = []
    for n in range(count):
        name = draw(_names)
        arguments = draw(_arguments)
        text = msgspec.json.encode(arguments).decode()
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        id_at = draw(st.sampled_from(["first", "late", "every"]))
        name_at = draw(st.sampled_from(["first", "late", "every"]))
        late = draw(st.integers(0, len(pieces) - 1))

        def place(mode: str, value: str, position: int, late: int = late) -> str | None:
            if mode == "every" or (mode == "first" and position == 0):
                return value
            return value if mode == "late" and position == late else None

        per_call.append(
            [
                (indexes[n], place(id_at, ids[n], i), place(name_at, name, i), piece)
                for i, piece in enumerate(pieces)
            ]
        )
        calls.append(
            {
                "index": indexes[n],
                "id": ids[n],
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        )
    # Interleave: repeatedly take the next fragment of a randomly chosen call.
    fragments = []
    cursors = [0] * count
    while any(c < len(f) for c, f in zip(cursors, per_call, strict=True)):
        open_calls = [i for i in range(count) if cursors[i] < len(per_call[i])]
        pick = draw(st.sampled_from(open_calls))
        fragments.append(per_call[pick][cursors[pick]])
        cursors[pick] += 1
    expected = [
        {k: v for k, v in call.items() if k != "index"}
        for call in sorted(calls, key=lambda c: c["index"])
    ]
    return expected, fragments


@settings(max_examples=300, deadline=None)
@given(call_streams())
def test_any_fragmentation_reassembles(stream: Any) -> None:
    expected, fragments = stream
    aggregator = ToolCallAggregator()
    for fragment in fragments:
        aggregator.process(*fragment)
    assert aggregator.get_calls() == expected
    # And the replay carries the same calls, in the same order, with valid JSON arguments.
    aggregator.insert_results({call["id"]: n for n, call in enumerate(expected)})
    assistant, *tools = aggregator.get_messages()
    assert [c["id"] for c in assistant["tool_calls"]] == [c["id"] for c in expected]
    assert [msgspec.json.decode(c["function"]["arguments"]) for c in assistant["tool_calls"]] == [
        c["function"]["arguments"] for c in expected
    ]
    assert [t["content"] for t in tools] == [str(n) for n in range(len(expected))]


@settings(max_examples=100, deadline=None)
@given(call_streams())
def test_whole_calls_in_one_fragment_each(stream: Any) -> None:
    expected, _ = stream
    aggregator = ToolCallAggregator()
    for position, call in enumerate(expected):
        arguments = msgspec.json.encode(call["function"]["arguments"]).decode()
        aggregator.process(position, call["id"], call["function"]["name"], arguments)
    assert aggregator.get_calls() == expected
