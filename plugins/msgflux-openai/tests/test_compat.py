"""``msgflux_openai.compat``: the request helpers OpenAI-compatible provider plugins share.

Pure unit tests; every helper must leave the caller's nested data untouched.
"""

from __future__ import annotations

import copy

import pytest

from msgflux.errors import UnsupportedParameterError
from msgflux_openai.compat import (
    check_effort,
    image_urls,
    join_text_parts,
    merge_extra_body,
    refuse,
    strip_tool_strict,
)


def tool(name, **function):
    return {"type": "function", "function": {"name": name, "parameters": {}, **function}}


# -- refuse -----------------------------------------------------------------------------------


def test_refuse_names_the_provider_the_field_and_the_reason():
    reasons = {"verbosity": "it has no verbosity control", "seed": "no seeds"}
    with pytest.raises(UnsupportedParameterError, match=r"'acme'.*`verbosity`.*verbosity control"):
        refuse("acme", {"verbosity": "low", "seed": None}, reasons)


@pytest.mark.parametrize("params", [{}, {"verbosity": None}, {"other": 1}])
def test_refuse_lets_unset_fields_through(params):
    refuse("acme", params, {"verbosity": "no"})


def test_falsy_values_are_set_and_refused():
    with pytest.raises(UnsupportedParameterError, match="presence_penalty"):
        refuse("acme", {"presence_penalty": 0}, {"presence_penalty": "not supported"})


# -- check_effort -----------------------------------------------------------------------------


def test_check_effort_lists_what_is_accepted():
    with pytest.raises(
        UnsupportedParameterError, match=r"gpt-oss models on provider 'acme'.*low, medium, high"
    ):
        check_effort("acme", "none", ("low", "medium", "high"), models="gpt-oss models")


@pytest.mark.parametrize("effort", [None, "low"])
def test_check_effort_accepts_allowed_and_missing_efforts(effort):
    check_effort("acme", effort, ("low", "medium", "high"))


# -- strip_tool_strict ------------------------------------------------------------------------


def test_strip_tool_strict_copies_only_what_changes():
    tools = [tool("a", strict=True), tool("b")]
    before = copy.deepcopy(tools)
    out = strip_tool_strict(tools)
    assert out == [tool("a"), tool("b")]
    assert tools == before  # the caller's schemas keep their flag
    assert out is not tools and out[1] is tools[1]


def test_strip_tool_strict_returns_tools_unchanged_when_none_is_strict():
    tools = [tool("a"), {"type": "function"}, "not a tool"]
    assert strip_tool_strict(tools) is tools
    assert strip_tool_strict(None) is None


# -- image_urls -------------------------------------------------------------------------------


def test_image_urls_finds_every_image_part():
    messages = [
        {"role": "system", "content": "s"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
            ],
        },
    ]
    assert list(image_urls(messages)) == [
        (1, "https://x/cat.png"),
        (1, "data:image/png;base64,AAAA"),
    ]
    assert list(image_urls(None)) == []


# -- join_text_parts --------------------------------------------------------------------------


def test_join_text_parts_turns_text_only_lists_into_strings():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"},
    ]
    before = copy.deepcopy(messages)
    out = join_text_parts(messages)
    assert out == [{"role": "user", "content": "a\nb"}, {"role": "assistant", "content": "c"}]
    assert messages == before and out[1] is messages[1]


def test_join_text_parts_leaves_images_and_plain_messages_alone():
    image = {"type": "image_url", "image_url": {"url": "data:,"}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, image]},
        {"role": "user", "content": []},
        {"role": "tool", "content": "0", "tool_call_id": "c"},
    ]
    assert join_text_parts(messages) is messages


# -- merge_extra_body -------------------------------------------------------------------------


def test_merge_extra_body_adds_fields_and_the_callers_keys_win():
    caller = {"reasoning": {"enabled": True}, "top_k": 5}
    params = {"extra_body": caller}
    merge_extra_body(params, {"reasoning": {"enabled": False}, "think": 1})
    assert params["extra_body"] == {"reasoning": {"enabled": True}, "top_k": 5, "think": 1}
    assert caller == {"reasoning": {"enabled": True}, "top_k": 5}


def test_merge_extra_body_without_fields_changes_nothing():
    params = {"model": "m"}
    merge_extra_body(params, {})
    assert params == {"model": "m"}
