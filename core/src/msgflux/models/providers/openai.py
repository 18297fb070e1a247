"""``from msgflux.models.providers.openai import OpenAIChatCompletion`` (spec 000 section 16).

The class lives in the ``msgflux-openai`` distribution; this module keeps the spec's import
path working and says what to install when it is missing.
"""

from __future__ import annotations

try:
    from msgflux_openai.chat import OpenAIChatCompletion
except ImportError as exc:  # pragma: no cover - exercised by the core-only test environment
    raise ImportError(
        "OpenAIChatCompletion comes with the OpenAI plugin: pip install 'msgflux[openai]'"
    ) from exc

__all__ = ["OpenAIChatCompletion"]
