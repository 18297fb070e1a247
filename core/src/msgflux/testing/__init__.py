"""Test tools for msgflux users and plugin authors.

- ``LoopbackServer`` (``msgflux.testing.server``): a scriptable OpenAI-compatible HTTP server
  on 127.0.0.1 (text, reasoning, tool calls, usage, errors, broken and stalled streams)
  that records every request; ``Reply``, ``ToolCall``, ``Usage``, ``Audio`` script it.
- ``msgflux.testing.ratelimit.RateLimiter``: a token bucket for the loopback server that
  answers 429 past its rate (with or without ``Retry-After``) and counts what it admitted;
  ``python -m msgflux.testing.server --rate N`` serves one from its own process.
- The ``fake`` provider (``mf.Model.chat_completion("fake/any")``): deterministic, offline.
- ``msgflux.testing.pytest_plugin``: pytest fixtures (``loopback_server``).
- ``msgflux.testing.conformance``: the test suite every provider plugin runs against itself.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Audio", "LoopbackServer", "Reply", "ToolCall", "Usage"]


def __getattr__(name: str) -> Any:
    # `import msgflux` imports this package (for the fake provider); the server and its
    # asyncio machinery load only when a test asks for them.
    if name in __all__:
        return getattr(importlib.import_module("msgflux.testing.server"), name)
    raise AttributeError(f"module 'msgflux.testing' has no attribute {name!r}")
