"""The internal API the gateway and the cache call: one log line and one span event each."""

from __future__ import annotations

import logging

from msgflux.errors import ProviderConnectionError, RateLimitError
from msgflux.telemetry import events


def test_gateway_and_cache_events_land_on_the_current_span(telemetry, caplog):
    tracer = telemetry.tracer_provider.get_tracer("app")
    refused = ProviderConnectionError("connection refused", provider="openai")
    limited = RateLimitError("slow down", status=429, provider="groq")
    with caplog.at_level(logging.DEBUG, logger="msgflux"), tracer.start_as_current_span("route"):
        events.gateway_attempt("router", "openai/gpt-a", 1)
        events.gateway_failover("router", "openai/gpt-a", refused, "groq/llama")
        events.circuit_opened("router", "openai/gpt-a", 30.0, refused)
        events.gateway_failover("router", "groq/llama", limited, None)
        events.cache_hit("sqlite")
        events.cache_bypassed(
            "redis", "get", ConnectionError("redis://app:hunter2@10.0.0.5:6379 unreachable")
        )

    span = telemetry.span("route")
    assert [(e.name, dict(e.attributes)) for e in span.events] == [
        (
            "msgflux.gateway.attempt",
            {
                "msgflux.gateway.name": "router",
                "msgflux.gateway.deployment": "openai/gpt-a",
                "msgflux.gateway.attempt": 1,
            },
        ),
        (
            "msgflux.gateway.failover",
            {
                "msgflux.gateway.name": "router",
                "msgflux.gateway.deployment": "openai/gpt-a",
                "msgflux.gateway.next_deployment": "groq/llama",
                "error.type": "msgflux.errors.ProviderConnectionError",
            },
        ),
        (
            "msgflux.gateway.circuit_open",
            {
                "msgflux.gateway.name": "router",
                "msgflux.gateway.deployment": "openai/gpt-a",
                "msgflux.gateway.cooldown": 30.0,
                "error.type": "msgflux.errors.ProviderConnectionError",
            },
        ),
        (
            "msgflux.gateway.failover",
            {
                "msgflux.gateway.name": "router",
                "msgflux.gateway.deployment": "groq/llama",
                "error.type": "msgflux.errors.RateLimitError",
            },
        ),
        ("msgflux.cache.hit", {"msgflux.cache.backend": "sqlite"}),
        (
            "msgflux.cache.bypass",
            {
                "msgflux.cache.backend": "redis",
                "msgflux.cache.operation": "get",
                "error.type": "ConnectionError",
            },
        ),
    ]
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("msgflux.gateway", "DEBUG", "router: attempt 1 on openai/gpt-a"),
        (
            "msgflux.gateway",
            "WARNING",
            "router: openai/gpt-a failed (ProviderConnectionError: openai request failed: "
            "connection refused); failing over to groq/llama",
        ),
        (
            "msgflux.gateway",
            "WARNING",
            "router: circuit opened for openai/gpt-a (ProviderConnectionError: openai request "
            "failed: connection refused); no calls for 30.0s",
        ),
        (
            "msgflux.gateway",
            "WARNING",
            "router: groq/llama failed (RateLimitError: groq request failed: HTTP 429: slow "
            "down); failing over to no other deployment",
        ),
        (
            "msgflux.cache",
            "WARNING",
            "cache backend redis failed on get (ConnectionError: redis://***@10.0.0.5:6379 "
            "unreachable); the call goes on without the cache",
        ),
    ]


def test_events_log_even_when_telemetry_is_off(caplog):
    with caplog.at_level(logging.WARNING, logger="msgflux"):
        events.cache_bypassed("sqlite", "set", OSError("disk full\n  at /var/cache/x.db"))
        events.gateway_failover("gw", "a", OSError("Bearer abc.def refused"), "b", log=True)
        events.circuit_opened("gw", "a", 5, log=False)
    assert [r.getMessage() for r in caplog.records] == [
        "cache backend sqlite failed on set (OSError: disk full at /var/cache/x.db); the call "
        "goes on without the cache",
        "gw: a failed (OSError: Bearer *** refused); failing over to b",
    ]


def test_one_line_flattens_and_shortens():
    assert events.one_line("a\n  b\tc") == "a b c"
    assert events.one_line("x" * 300, 20) == "x" * 17 + "..."
