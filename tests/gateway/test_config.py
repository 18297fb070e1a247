"""Building a gateway: bad input fails at construction with what to fix; msgflux 0.5's
constructor (``model_name``, ``time_constraints``, ``fallback=``, ``model_preference=``)
keeps working; time windows with an injected UTC clock."""

from __future__ import annotations

import datetime

import pytest

import msgflux as mf
from msgflux.errors import ModelRouterError, ProviderError


def fake(name: str = "echo", **options):
    return mf.Model.chat_completion(f"fake/{name}", **options)


class Broken:
    """A chat-completion stand-in that always fails as an unavailable server would."""

    model_type = "chat_completion"
    provider = "broken"

    def __init__(self, model_id: str = "down") -> None:
        self.model_id = model_id
        self.calls = 0

    def __call__(self, messages, **options):
        self.calls += 1
        raise ProviderError("down", status=503, provider="broken")

    async def acall(self, messages, **options):
        return self(messages, **options)


class Embedder:
    model_type = "text_embedder"
    provider = "fake"
    model_id = "embedder"

    def __call__(self, *args, **kwargs): ...

    async def acall(self, *args, **kwargs): ...


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("models", "options", "error", "says"),
    [
        ([], {}, ValueError, "needs at least one deployment"),
        ("fake/echo", {}, TypeError, "takes a list of deployments"),
        ([fake()], {}, TypeError, "deployment 0 must be a dict"),
        ([{"name": "a"}], {}, ValueError, "deployment 0 has no 'model'"),
        ([{"model": fake(), "wieght": 2}], {}, TypeError, "Did you mean 'weight'?"),
        ([{"model": 42}], {}, TypeError, "must be a chat-completion model"),
        ([{"model": fake(), "weight": 0}], {}, ValueError, "'weight' must be a number > 0"),
        ([{"model": fake(), "timeout": -1}], {}, ValueError, "positive number of seconds"),
        ([{"model": fake(), "name": "a", "model_name": "b"}], {}, ValueError, "keep one"),
        (
            [{"name": "a", "model": fake()}, {"name": "a", "model": fake("other")}],
            {},
            ValueError,
            "deployments 0 and 1 are both named 'a': give each deployment its own 'name'",
        ),
        (
            [{"model": fake()}, {"model": fake()}],
            {},
            ValueError,
            "both named 'fake/echo'",
        ),
        (
            [{"name": "chat", "model": fake()}, {"name": "vectors", "model": Embedder()}],
            {},
            TypeError,
            "but 'vectors' is 'text_embedder'",
        ),
        (
            [{"name": "a", "group": "small", "model": fake()}],
            {"fallbacks": {"small": ["larg"]}},
            ValueError,
            "fallbacks['small'] names 'larg', which no deployment declares as its group",
        ),
        (
            [{"name": "a", "group": "small", "model": fake()}, {"name": "b", "model": fake("b")}],
            {"fallbacks": {"smal": ["b"]}},
            ValueError,
            "Did you mean 'small'?",
        ),
        (
            [{"name": "a", "model": fake()}],
            {"context_length_fallbacks": {"a": ["a"]}},
            ValueError,
            "names the group itself",
        ),
        ([{"model": fake()}], {"strategy": "round_robin"}, ValueError, "is not one of"),
        ([{"model": fake()}], {"strategy": "wieghted"}, ValueError, "Did you mean 'weighted'?"),
        ([{"model": fake()}], {"failover_on": ["content_policy"]}, ValueError, "refusal"),
        ([{"model": fake()}], {"failover_on": ["context_length"]}, ValueError, "context_length_"),
        ([{"model": fake()}], {"failover_on": ["timeouts"]}, ValueError, "is not one of"),
        ([{"model": fake()}], {"failure_threshold": 0}, ValueError, "integer >= 1"),
        ([{"model": fake()}], {"cooldown": -1}, ValueError, "seconds >= 0"),
        ([{"model": fake()}], {"fallback": "yes"}, TypeError, "True or False"),
        (
            [{"model": fake(), "time_constraints": [("25:00", "06:00")]}],
            {},
            ValueError,
            "'25:00' is not a time of day",
        ),
        (
            [{"model": fake(), "time_constraints": ("22:00", "06:00")}],
            {},
            TypeError,
            'must be a ("HH:MM", "HH:MM") pair',
        ),
    ],
)
def test_bad_input_fails_at_construction(models, options, error, says):
    with pytest.raises(error) as caught:
        mf.ModelGateway(models, **options)
    assert says in str(caught.value)


def test_an_unknown_model_preference_says_what_is_known():
    gateway = mf.ModelGateway([{"name": "primary", "model": fake()}])
    with pytest.raises(ValueError, match=r"known: 'primary'\. Did you mean 'primary'\?"):
        gateway("hi", model_preference="primay")


def test_a_model_given_as_a_string_is_built():
    gateway = mf.ModelGateway([{"model": "fake/echo"}])
    assert gateway.model_names == ["fake/echo"]
    assert gateway("hi").consume() == "hi"


# -- msgflux 0.5's gateway -----------------------------------------------------------------------


def test_the_05_constructor_and_model_preference():
    down = Broken()
    gateway = mf.ModelGateway(
        [
            {"model_name": "weak", "model": fake("weak"), "description": "Fast."},
            {"model_name": "broken", "model": down},
            {"model_name": "strong", "model": fake("strong")},
        ]
    )
    assert gateway.model_names == ["weak", "broken", "strong"]
    assert gateway.models[1] is down
    assert gateway.deployments[0].description == "Fast."
    assert gateway("hi").metadata.gateway.deployment == "weak"
    # The preferred model goes first, the others follow in the listed order.
    response = gateway("hi", model_preference="broken")
    assert [a["deployment"] for a in response.metadata.gateway.attempts] == ["broken", "weak"]
    assert gateway(messages="hi", model_preference="strong").metadata.gateway.deployment == (
        "strong"
    )


def test_every_model_failing_raises_model_router_error():
    first, second = Broken("one"), Broken("two")
    gateway = mf.ModelGateway(
        [{"model_name": "one", "model": first}, {"model_name": "two", "model": second}]
    )
    with pytest.raises(ModelRouterError) as caught:
        gateway("hi")
    error = caught.value
    assert [(a.deployment, a.model) for a in error.attempts] == [
        ("one", "broken/one"),
        ("two", "broken/two"),
    ]
    assert all(isinstance(e, ProviderError) for e in error.exceptions)
    assert [(name, provider) for name, provider, _ in error.model_info] == [
        ("one", "broken"),
        ("two", "broken"),
    ]
    assert error.__cause__ is error.attempts[-1].error
    assert "one (broken/one): ProviderError" in str(error)


def test_fallback_false_keeps_the_call_on_its_model():
    down = Broken()
    gateway = mf.ModelGateway(
        [{"model_name": "only", "model": down}, {"model_name": "other", "model": fake()}],
        fallback=False,
    )
    with pytest.raises(ModelRouterError):
        gateway("hi")
    assert gateway("hi", model_preference="other").consume() == "hi"


# -- time constraints ----------------------------------------------------------------------------


def at(hour: int, minute: int = 0):
    return lambda: datetime.datetime(2026, 1, 1, hour, minute, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("now", "answered_by"),
    [
        (at(21, 59), "night-owl"),
        (at(22, 0), "day"),
        (at(23, 30), "day"),
        (at(0, 0), "day"),
        (at(6, 0), "day"),
        (at(6, 1), "night-owl"),
        (at(12), "night-owl"),
    ],
)
def test_a_window_spanning_midnight(now, answered_by):
    gateway = mf.ModelGateway(
        [
            {"model_name": "night-owl", "model": fake(), "time_constraints": [("22:00", "06:00")]},
            {"model_name": "day", "model": fake("day")},
        ],
        utc_clock=now,
    )
    assert gateway("hi").metadata.gateway.deployment == answered_by


def test_a_local_time_is_compared_in_utc():
    tz = datetime.timezone(datetime.timedelta(hours=-3))
    gateway = mf.ModelGateway(
        [
            {"model_name": "a", "model": fake(), "time_constraints": [["09:00", "10:00"]]},
            {"model_name": "b", "model": fake("b")},
        ],
        utc_clock=lambda: datetime.datetime(2026, 1, 1, 6, 30, tzinfo=tz),  # 09:30 UTC
    )
    assert gateway("hi").metadata.gateway.deployment == "b"


def test_no_model_available_in_its_window():
    gateway = mf.ModelGateway(
        [{"model_name": "a", "model": fake(), "time_constraints": [("00:00", "23:59")]}],
        utc_clock=at(12),
    )
    with pytest.raises(ModelRouterError) as caught:
        gateway("hi")
    assert caught.value.unavailable == {"a": "outside its time_constraints"}
    assert caught.value.attempts == []


# -- what it exposes -------------------------------------------------------------------------------


def test_groups_and_repr():
    gateway = mf.ModelGateway(
        [
            {"name": "a", "group": "small", "model": fake("a")},
            {"name": "b", "group": "small", "model": fake("b"), "weight": 3},
            {"name": "c", "group": "large", "model": fake("c")},
        ],
        strategy="weighted",
    )
    assert gateway.groups == {"small": ["a", "b"], "large": ["c"]}
    assert gateway.deployments[1].weight == 3.0
    assert gateway.model_type == "chat_completion"
    assert repr(gateway) == "ModelGateway(deployments=['a', 'b', 'c'], strategy='weighted')"
    assert "tools" in gateway.supports and "streaming" in gateway.supports


def test_the_models_passed_in_keep_their_retry_policy():
    model = fake(retry={"max_attempts": 5})
    gateway = mf.ModelGateway([{"model": model}])
    gateway("hi")
    assert model.retry == {"max_attempts": 5}


def test_stream_must_be_a_bool():
    gateway = mf.ModelGateway([{"model": fake()}])
    with pytest.raises(ValueError, match="`stream` must be True or False"):
        gateway("hi", stream="yes")


def test_a_gateway_can_be_a_deployment_of_another():
    inner = mf.ModelGateway(
        [{"name": "down", "model": Broken()}, {"name": "up", "model": fake("up")}]
    )
    outer = mf.ModelGateway([{"name": "pool", "model": inner}, {"name": "spare", "model": fake()}])
    response = outer("hi")
    assert response.metadata.gateway.deployment == "pool"
    assert response.metadata.gateway.model == "gateway/down"
    assert response.consume() == "hi"
    again = mf.Model.from_serialized(
        {
            "msgflux_type": "model_gateway",
            "state": {"deployments": [{"name": "spare", "model": fake().serialize()}]},
        }
    )
    assert again("hi").consume() == "hi"
