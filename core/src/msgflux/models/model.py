"""``mf.Model``: the factory that turns ``"provider/model-id"`` into a model instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux.models.chat_completion import ChatCompletionModel
from msgflux.plugins import get_provider, list_providers

if TYPE_CHECKING:
    from msgflux.gateway import ModelGateway

__all__ = ["Model"]


def split_model_path(model_path: str) -> tuple[str, str]:
    """``"groq/openai/gpt-oss-120b"`` -> ``("groq", "openai/gpt-oss-120b")`` (first ``/``)."""
    if not isinstance(model_path, str):
        raise TypeError(
            f"model path must be a str like 'openai/gpt-4.1-mini', got {type(model_path).__name__}"
        )
    provider, sep, model_id = model_path.partition("/")
    if not sep or not provider or not model_id:
        raise ValueError(
            f"model path {model_path!r} must be 'provider/model-id', e.g. 'openai/gpt-4.1-mini'; "
            f"installed providers: {', '.join(list_providers())}"
        )
    return provider, model_id


class Model:
    """Factory of model instances."""

    @staticmethod
    def chat_completion(model_path: str, **options: Any) -> ChatCompletionModel:
        """A chat-completion model for ``"provider/model-id"`` (split on the first ``/``).

        Options are those of ``ChatCompletionModel`` plus the provider's own (see its
        plugin's README). Raises ``ProviderNotFoundError`` / ``PluginMissingError`` (with the
        ``pip install`` that fixes it) / ``PluginLoadError`` when the provider is unusable.
        """
        provider, model_id = split_model_path(model_path)
        spec = get_provider(provider)
        model_class = spec.model_class or ChatCompletionModel
        return model_class(model_id, provider=provider, **options)

    @staticmethod
    def from_serialized(
        data: Mapping[str, Any], **overrides: Any
    ) -> ChatCompletionModel | ModelGateway:
        """Rebuild a model from ``model.serialize()``; pass ``api_key=`` etc. as overrides.

        A ``ModelGateway``'s ``serialize()`` output rebuilds the gateway (overrides are then
        gateway settings).
        """
        if isinstance(data, Mapping) and data.get("msgflux_type") == "model_gateway":
            from msgflux.gateway import ModelGateway

            return ModelGateway.from_serialized(data, **overrides)
        if not isinstance(data, Mapping) or data.get("msgflux_type") != "model":
            raise ValueError("expected the dict returned by model.serialize()")
        if data.get("model_type") != ChatCompletionModel.model_type:
            raise ValueError(f"unsupported model_type {data.get('model_type')!r}")
        state = dict(data["state"])
        model_id = state.pop("model_id")
        return Model.chat_completion(f"{data['provider']}/{model_id}", **{**state, **overrides})

    @staticmethod
    def providers() -> list[str]:
        """Names of the providers usable right now."""
        return list_providers()
