"""``serialize()`` / ``mf.Model.from_serialized``: a gateway through JSON and back, no keys."""

from __future__ import annotations

import datetime
import json

import pytest

import msgflux as mf
from msgflux.testing.server import Reply

NOON = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)


@pytest.fixture
def gateway(servers, deploy):
    a, b, c = servers(3)
    built = mf.ModelGateway(
        [
            {"name": "a", "group": "small", "model": deploy(a, temperature=0), "weight": 2},
            {
                "name": "b",
                "group": "small",
                "model": deploy(b),
                "timeout": 5,
                "time_constraints": [("22:00", "06:00")],
                "description": "night shift off",
            },
            {"name": "c", "group": "large", "model": deploy(c)},
        ],
        strategy="weighted",
        fallbacks={"small": ["large"]},
        context_length_fallbacks={"small": ["large"]},
        failover_on=["unavailable", "rate_limited", "auth"],
        failure_threshold=5,
        cooldown=12.5,
        timeout=30,
        max_attempts=4,
    )
    return (a, b, c), built


def test_round_trip_through_json(gateway, count, api_key):
    (a, b, c), original = gateway
    text = json.dumps(original.serialize())
    assert api_key not in text
    data = json.loads(text)
    rebuilt = mf.Model.from_serialized(
        data,
        model_overrides={name: {"api_key": api_key} for name in "abc"},
        utc_clock=lambda: NOON,  # b rests at night
    )
    assert isinstance(rebuilt, mf.ModelGateway)
    assert rebuilt.serialize() == original.serialize()
    assert rebuilt.groups == {"small": ["a", "b"], "large": ["c"]}
    assert rebuilt.strategy == "weighted"
    assert rebuilt.deployments[1].time_constraints == original.deployments[1].time_constraints
    assert rebuilt.deployments[0].model.defaults["temperature"] == 0
    # ...and it routes: the whole small group down, the large one answers.
    a.set_handler(lambda request: Reply.error(503, "down"))
    b.set_handler(lambda request: Reply.error(503, "down"))
    response = rebuilt("hello", model_preference="small")
    assert response.metadata.gateway.deployment == "c"
    assert (count(a), count(b), count(c)) == (1, 1, 1)
    rebuilt.close()


def test_keys_come_from_the_environment_by_default(gateway, monkeypatch):
    _, original = gateway
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-123")
    rebuilt = mf.Model.from_serialized(original.serialize(), cooldown=1.0)
    assert all(m.api_key == "sk-from-the-environment-123" for m in rebuilt.models)
    assert rebuilt.serialize()["state"]["cooldown"] == 1.0
    rebuilt.close()


def test_defaults_are_not_written():
    gateway = mf.ModelGateway([{"name": "a", "model": mf.Model.chat_completion("fake/echo")}])
    state = gateway.serialize()["state"]
    assert set(state) == {"deployments"}
    assert state["deployments"][0]["name"] == "a" and state["deployments"][0]["group"] == "a"
    again = mf.Model.from_serialized(json.loads(json.dumps(gateway.serialize())))
    assert again("hi").consume() == "hi"


def test_bad_payloads_and_overrides():
    with pytest.raises(ValueError, match=r"ModelGateway.serialize\(\)"):
        mf.ModelGateway.from_serialized({"msgflux_type": "model"})
    with pytest.raises(ValueError, match="no deployments"):
        mf.ModelGateway.from_serialized({"msgflux_type": "model_gateway", "state": {}})
    gateway = mf.ModelGateway([{"name": "a", "model": mf.Model.chat_completion("fake/echo")}])
    with pytest.raises(ValueError, match=r"model_overrides names \['b'\]"):
        mf.ModelGateway.from_serialized(gateway.serialize(), model_overrides={"b": {}})
