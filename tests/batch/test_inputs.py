"""What a batch takes: prompts, message lists, dicts of call arguments; bad input fails first."""

from __future__ import annotations

import pytest

import msgflux as mf


@pytest.fixture
def model():
    return mf.Model.chat_completion("fake/echo")


def test_prompts_message_lists_and_call_dicts(model):
    results = model.batch(
        [
            "a prompt",
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "a list"}],
            {"messages": "a dict", "system_prompt": "sys"},
        ],
        progress=False,
    )

    assert [r.response.consume() for r in results] == ["a prompt", "a list", "a dict"]
    sent = model.client.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "sys"}


def test_batch_keyword_arguments_apply_to_every_call_and_an_items_own_win(model):
    model.batch(["one", {"messages": "two", "temperature": 0.9}], temperature=0.1, progress=False)

    temperatures = sorted(request["temperature"] for request in model.client.requests)
    assert temperatures == [0.1, 0.9]


@pytest.mark.parametrize(
    ("inputs", "error", "message"),
    [
        ("one prompt", TypeError, "wrap it in a list"),
        ({"messages": "x"}, TypeError, "wrap it in a list"),
        ([1], TypeError, "batch input 0 is a int"),
        (["ok", {"role": "user", "content": "x"}], ValueError, "batch input 1 .*wrap it in a list"),
        ([{"prompt": "x"}], ValueError, "no 'messages'"),
        ([{"messages": "x", "stream": True}], ValueError, "asks for a stream"),
    ],
)
def test_bad_inputs_fail_before_anything_is_sent(model, inputs, error, message):
    with pytest.raises(error, match=message):
        model.batch(inputs, progress=False)

    assert model.client.requests == []


def test_stream_is_refused_for_the_whole_batch(model):
    with pytest.raises(ValueError, match="whole answers"):
        model.batch(["x"], stream=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_concurrency": 0}, "at least 1"),
        ({"max_concurrency": 2.5}, "integer"),
        ({"requests_per_minute": 0}, "positive"),
        ({"tokens_per_minute": "many"}, "number"),
        ({"max_rate_limit_retries": -1}, ">= 0"),
        ({"progress": "yes"}, "True, False or None"),
    ],
)
def test_bad_settings_are_refused(model, options, message):
    with pytest.raises((TypeError, ValueError), match=message):
        model.batch(["x"], **options)


def test_an_empty_batch_is_empty(model):
    results = model.batch([], progress=False)

    assert len(results) == 0 and results.ok and results.stats.total == 0


def test_a_generator_of_inputs(model):
    results = model.batch((f"n{i}" for i in range(5)), progress=False)

    assert [r.input for r in results] == [f"n{i}" for i in range(5)]
