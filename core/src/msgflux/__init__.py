"""msgflux: one small, fast, typed API for every chat-completion LLM.

```python
import msgflux as mf

model = mf.Model.chat_completion("openai/gpt-4.1-mini")
print(model("Hello").consume())
```

Providers are plugins (distributions publishing the entry point group ``msgflux``); they
are discovered here, at import, without importing any vendor SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from msgflux.chat_block import ChatBlock
from msgflux.dotdict import dotdict
from msgflux.envs import set_envs
from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    ModelRouterError,
    MsgfluxError,
    PluginConflictError,
    PluginLoadError,
    PluginMissingError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
    StreamInterruptedError,
    StructuredOutputError,
    UnsupportedParameterError,
)
from msgflux.hookspecs import hookimpl
from msgflux.http import Timeout
from msgflux.models.chat_completion import ChatCompletionModel
from msgflux.models.model import Model
from msgflux.models.response import ModelResponse, ModelStreamResponse
from msgflux.plugins import list_plugins, list_providers, load_plugins, register_plugin
from msgflux.providers import ProviderSpec
from msgflux.telemetry import instrument, uninstrument

if TYPE_CHECKING:
    from msgflux.gateway import ModelGateway

__version__ = "0.6.0"

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ChatBlock",
    "ChatCompletionModel",
    "MissingAPIKeyError",
    "Model",
    "ModelGateway",
    "ModelResponse",
    "ModelRouterError",
    "ModelStreamResponse",
    "MsgfluxError",
    "PluginConflictError",
    "PluginLoadError",
    "PluginMissingError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderSpec",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "StreamInterruptedError",
    "StructuredOutputError",
    "Timeout",
    "UnsupportedParameterError",
    "__version__",
    "dotdict",
    "hookimpl",
    "instrument",
    "list_plugins",
    "list_providers",
    "register_plugin",
    "set_envs",
    "uninstrument",
]

# Subpackages imported on first attribute access, so `import msgflux` stays light.
_LAZY_SUBMODULES = frozenset(
    {
        "dsl",
        "gateway",
        "generation",
        "http",
        "models",
        "nn",
        "plugins",
        "telemetry",
        "testing",
        "tools",
    }
)
# Public names loaded on first access too: `mf.ModelGateway` imports msgflux.gateway.
_LAZY_NAMES = {"ModelGateway": "msgflux.gateway"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"msgflux.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'msgflux' has no attribute {name!r}")


load_plugins()
