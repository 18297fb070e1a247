"""The GenAI client metrics: three histograms, with the conventions' bucket advice.

- ``gen_ai.client.operation.duration`` (``s``): every chat call, failed ones included
  (with ``error.type``); a stream's lasts until its end.
- ``gen_ai.client.token.usage`` (``{token}``): the input and the output tokens of every
  answered call whose usage the provider reported (``gen_ai.token.type`` tells which).
  Answers served from msgflux's response cache consumed no tokens and are not counted.
- ``gen_ai.client.operation.time_to_first_chunk`` (``s``): streams only, from the call
  until ``model(..., stream=True)`` returned with the first chunk.

Bucket boundaries are the conventions' advice (``docs/gen-ai/gen-ai-metrics.md``), given to
the SDK as ``explicit_bucket_boundaries_advisory``; a ``View`` the application configures
still takes precedence.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DURATION", "TIME_TO_FIRST_CHUNK", "TOKEN_USAGE", "Metrics"]

DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
# A first chunk often comes within milliseconds of a local server: finer at the low end
# (the advice for the server-side gen_ai.server.time_to_first_token).
FIRST_CHUNK_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip


class Metrics:
    """The histograms of one ``Meter``."""

    __slots__ = ("duration", "time_to_first_chunk", "token_usage")

    def __init__(self, meter: Any) -> None:
        self.duration = meter.create_histogram(
            DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.token_usage = meter.create_histogram(
            TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        )
        self.time_to_first_chunk = meter.create_histogram(
            TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the request until the first chunk of a streamed answer.",
            explicit_bucket_boundaries_advisory=list(FIRST_CHUNK_BUCKETS),
        )
