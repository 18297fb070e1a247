"""``@register_model``: an in-process provider from a model subclass.

How to write one, stage by stage: docs/plugins.md, "A custom in-process provider".

```python
@register_model
class MyProviderChatCompletion(_BaseMyProvider, OpenAIChatCompletion):
    provider = "myprovider"
```

The decorator declares provider ``myprovider`` through the ordinary plugin API, extending
the provider of the nearest registered base class (``openai`` here), so the class's
overrides (``_get_base_url``, ``_get_api_key``, ``_adapt_params``, ``_initialize``,
``_process_model_output``) run on top of the same hooks as every other provider.
"""

from __future__ import annotations

from typing import TypeVar

from msgflux.hookspecs import hookimpl
from msgflux.plugins import list_providers, register_plugin, unregister_plugin
from msgflux.providers import ProviderSpec

__all__ = ["register_model"]

M = TypeVar("M", bound=type)

_PREFIX = "register_model:"


class _ModelClassPlugin:
    """The plugin object ``register_model`` registers for one class."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    @hookimpl
    def register_providers(self) -> list[ProviderSpec]:
        return [self.spec]


def register_model(cls: M) -> M:
    """Register ``cls`` (a ``ChatCompletionModel`` subclass with a ``provider`` attribute)."""
    from msgflux.models.chat_completion import ChatCompletionModel

    if not (isinstance(cls, type) and issubclass(cls, ChatCompletionModel)):
        raise TypeError(
            "@register_model decorates a subclass of ChatCompletionModel / OpenAIChatCompletion"
        )
    name = cls.__dict__.get("provider") or next(
        (klass.__dict__["provider"] for klass in cls.__mro__ if klass.__dict__.get("provider")),
        None,
    )
    if not name:
        raise TypeError(f"{cls.__name__} needs a class attribute `provider = 'name'`")
    base = next(
        (
            klass.__dict__["provider"]
            for klass in cls.__mro__[1:]
            if isinstance(klass.__dict__.get("provider"), str)
            and klass.__dict__["provider"] != name
        ),
        None,
    )
    if base is not None and base not in list_providers():
        base = None
    spec = ProviderSpec(
        name=name,
        extends=base,
        model_class=cls,
        description=f"in-process provider {cls.__module__}.{cls.__qualname__}",
    )
    plugin_name = _PREFIX + name
    try:  # re-registering (a notebook cell run twice) replaces the earlier class on purpose
        unregister_plugin(plugin_name)
    except ValueError:
        pass
    register_plugin(_ModelClassPlugin(spec), name=plugin_name)
    cls.provider = name
    return cls
