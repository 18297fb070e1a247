"""Test tools for msgflux users and plugin authors.

- ``msgflux.testing.server.LoopbackServer``: a scriptable OpenAI-compatible HTTP server on
  127.0.0.1 (text, reasoning, tool calls, usage, errors, broken and stalled streams).
- The ``fake`` provider (``mf.Model.chat_completion("fake/any")``): deterministic, offline.
- ``msgflux.testing.pytest_plugin``: pytest fixtures (``loopback_server``).
"""
