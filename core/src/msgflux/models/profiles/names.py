"""Names: msgflux provider names to models.dev provider ids, and model-name matching keys.

Both the generator (``scripts/build_profiles.py``) and the lookup use :func:`name_keys`, so the
keys stored in the packaged index and the keys a lookup computes can never drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "PROVIDER_ALIASES",
    "SELF_HOSTED_PROVIDERS",
    "catalogue_provider_id",
    "name_keys",
    "normalize_model_name",
]

#: msgflux provider names (and common spellings) whose models.dev directory name differs.
#: Names not listed here are looked up as they are (``openai``, ``groq``, ``openrouter``,
#: ``cerebras``, ``anthropic``, ``mistral``, ...).
PROVIDER_ALIASES: Mapping[str, str] = {
    "together": "togetherai",
    "together-ai": "togetherai",
    "fireworks": "fireworks-ai",
    "bedrock": "amazon-bedrock",
    "aws-bedrock": "amazon-bedrock",
    "vertex": "google-vertex",
    "vertexai": "google-vertex",
    "gemini": "google",
    "moonshot": "moonshotai",
    "kimi": "moonshotai",
    "novita": "novita-ai",
    "github": "github-models",
    "cloudflare": "cloudflare-workers-ai",
    "zhipu": "zhipuai",
    "mistralai": "mistral",
    "dashscope": "alibaba",
    "qwen": "alibaba",
    "x-ai": "xai",
    "grok": "xai",
    "hf": "huggingface",
    "lm-studio": "lmstudio",
    "lm_studio": "lmstudio",
}

#: Providers that serve whatever weights their operator loaded. Their profiles come from the
#: open-weights facts matched by model name (see :func:`name_keys`), without prices: a
#: self-hosted server has no per-token price. ``lmstudio`` has a models.dev directory; it is
#: consulted first. Any provider models.dev does not know (``sambanova``, a custom provider)
#: falls back the same way.
SELF_HOSTED_PROVIDERS: frozenset[str] = frozenset(
    {
        "vllm",
        "llamacpp",
        "llama-cpp",
        "llama_cpp",
        "llama.cpp",
        "ollama",
        "lmstudio",
        "sglang",
        "tgi",
        "localai",
    }
)

# Quantisation and packaging suffixes that name a build of the weights, not another model:
# "Qwen3-32B-AWQ", "qwen3-30b-a3b-fp8", "SmolLM2-135M-Instruct-Q8_0.gguf", "qwen3:32b-q4_K_M".
_BUILD_SUFFIX = (
    r"[-_.](?:gguf|awq|gptq|mlx|exl2|"
    r"fp4|fp8|fp16|fp32|f16|f32|bf16|nvfp4|mxfp4|int4|int8|"
    r"w\d+a\d+|\d+bit|q\d+(?:_[a-z0-9]+)*|iq\d+(?:_[a-z0-9]+)*)$"
)


def catalogue_provider_id(provider_id: str) -> str:
    """The models.dev provider directory name for a msgflux provider name.

    Args:
        provider_id: A msgflux provider name (``"together"``) or a models.dev id.

    Returns:
        The lower-cased models.dev id (``"togetherai"``).
    """
    key = provider_id.strip().lower()
    return PROVIDER_ALIASES.get(key, key)


def normalize_model_name(name: str) -> str:
    """Normalise one model name for matching open-weights facts.

    The rule, applied in order:

    1. lower-case and strip surrounding whitespace;
    2. an Ollama tag becomes part of the name (``qwen3:32b`` -> ``qwen3-32b``), and the tag
       ``latest`` is dropped (``gpt-oss:latest`` -> ``gpt-oss``);
    3. quantisation / packaging suffixes are removed, repeatedly (``-awq``, ``-fp8``,
       ``-bf16``, ``-q4_k_m``, ``.gguf``, ``-4bit``, ``-w4a16``, ...).

    An organisation prefix (``Qwen/``) is kept; :func:`name_keys` also tries the name without it.

    Args:
        name: A model name or id as a server reports it.

    Returns:
        The normalised name.
    """
    text = name.strip().lower()
    head, sep, last = text.rpartition("/")
    if ":" in last:
        base, _, tag = last.partition(":")
        last = base if tag in ("", "latest") else f"{base}-{tag}"
    text = f"{head}{sep}{last}"
    while True:
        stripped = re.sub(_BUILD_SUFFIX, "", text)  # re caches the compiled pattern
        if stripped == text or not stripped or stripped.endswith("/"):
            return text
        text = stripped


def name_keys(model_id: str) -> list[str]:
    """Keys under which an open-weights model is indexed, most specific first.

    ``"Qwen/Qwen3-32B-AWQ"`` gives ``["qwen/qwen3-32b", "qwen3-32b"]``: the normalised full id
    (it matches a Hugging Face repository id) and the normalised last path segment (it
    matches a bare model name).

    Args:
        model_id: A model id, possibly with ``/`` in it.

    Returns:
        One or two distinct non-empty keys.
    """
    full = normalize_model_name(model_id)
    keys = [full] if full else []
    if "/" in full:
        last = normalize_model_name(full.rsplit("/", 1)[1])
        if last and last not in keys:
            keys.append(last)
    return keys
