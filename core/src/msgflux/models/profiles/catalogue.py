"""The compact profile catalogue: its format, how to build it, and how to read it lazily.

One JSON document (the packaged snapshot, or a refreshed copy in the user cache)::

    {
      "format": 1,
      "source": "models.dev snapshot" | "<url>",
      "data_date": "2026-07-01",          # newest last_updated in the data
      "fetched_at": 1751400000.0 | null,  # epoch seconds, for a refreshed copy
      "url": "https://models.dev/api.json" | null,
      "providers": {"<provider>": {"<model id>": ROW, ...}, ...},
      "models": {"<vendor>/<model>": ROW, ...},               # provider-agnostic facts
      "open_weights_models": {"<name key>": "<vendor>/<model>", ...},
      "open_weights_hosted": {"<name key>": ["<provider>", "<model id>"], ...}
    }

A ROW is a positional array (see ``_Row``; trailing nulls are dropped). Inheritance
(``base_model``) is already resolved in every row. The two ``open_weights_*`` maps serve
self-hosted lookups by model name: keys come from :func:`names.name_keys`, the first map from
the provider-agnostic open-weights models (their own names and their Hugging Face repository
ids), the second from open-weights models as hosted providers list them.

Reading is lazy: the whole document is parsed once, but each provider's models (and the
name indexes) are decoded only when a lookup first needs them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from msgflux.models.profiles.cost import ModelCost
from msgflux.models.profiles.names import name_keys
from msgflux.models.profiles.profile import (
    ModelCapabilities,
    ModelLimits,
    ModelModalities,
    ModelProfile,
)

__all__ = [
    "FORMAT",
    "Catalogue",
    "build_document",
    "canonical_name_index",
    "compact_row",
    "encode_document",
    "hosted_name_index",
    "newest_date",
]

#: Bump when the layout changes; a cache file of another format is ignored.
FORMAT = 1

_TOOL_CALL = 1
_STRUCTURED_OUTPUT = 2
_REASONING = 4
_ATTACHMENT = 8
_TEMPERATURE = 16
_OPEN_WEIGHTS = 32

_FLAG_FIELDS = (
    ("tool_call", _TOOL_CALL),
    ("structured_output", _STRUCTURED_OUTPUT),
    ("reasoning", _REASONING),
    ("attachment", _ATTACHMENT),
    ("temperature", _TEMPERATURE),
    ("open_weights", _OPEN_WEIGHTS),
)

_HF_REPO = re.compile(r"^https?://(?:www\.)?huggingface\.co/([^/\s]+/[^/\s?#]+)")


class _Row(msgspec.Struct, array_like=True, frozen=True):
    """One model, positionally; the field order IS the file format."""

    name: str
    family: str | None = None
    flags: int = 0
    modalities_in: list[str] = []
    modalities_out: list[str] = []
    context: int | None = None
    input_limit: int | None = None
    output_limit: int | None = None
    cost_input: float | None = None
    cost_output: float | None = None
    cost_cache_read: float | None = None
    cost_cache_write: float | None = None
    cost_reasoning: float | None = None
    release_date: str | None = None
    base_model: str | None = None


_EMPTY = msgspec.Raw(b"{}")


class _Document(msgspec.Struct):
    format: int
    source: str = ""
    data_date: str | None = None
    fetched_at: float | None = None
    url: str | None = None
    providers: dict[str, msgspec.Raw] = {}
    models: msgspec.Raw = _EMPTY
    open_weights_models: msgspec.Raw = _EMPTY
    open_weights_hosted: msgspec.Raw = _EMPTY


# --- building -------------------------------------------------------------------------------


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _table(entry: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = entry.get(key)
    return value if isinstance(value, Mapping) else {}


def compact_row(entry: Mapping[str, Any], *, fallback_name: str = "") -> list[Any]:
    """One models.dev model (TOML table or api.json object) as a compact row.

    Args:
        entry: The model's fields, inheritance already resolved; ``base_model`` is kept
            when present.
        fallback_name: Display name when the entry has none (the model id).

    Returns:
        The positional row, trailing nulls dropped.
    """
    flags = 0
    for field_name, bit in _FLAG_FIELDS:
        if entry.get(field_name) is True:
            flags |= bit
    modalities = _table(entry, "modalities")
    limit = _table(entry, "limit")
    cost = _table(entry, "cost")
    row = [
        _text(entry.get("name")) or fallback_name,
        _text(entry.get("family")),
        flags,
        _texts(modalities.get("input")),
        _texts(modalities.get("output")),
        _integer(limit.get("context")),
        _integer(limit.get("input")),
        _integer(limit.get("output")),
        _number(cost.get("input")),
        _number(cost.get("output")),
        _number(cost.get("cache_read")),
        _number(cost.get("cache_write")),
        _number(cost.get("reasoning")),
        _text(entry.get("release_date")),
        _text(entry.get("base_model")),
    ]
    while row and row[-1] is None:
        row.pop()
    return row


def newest_date(entries: Iterable[Mapping[str, Any]]) -> str | None:
    """The newest ``last_updated`` (or ``release_date``) among models.dev entries."""
    dates = [
        date
        for entry in entries
        if (date := _text(entry.get("last_updated")) or _text(entry.get("release_date")))
    ]
    return max(dates) if dates else None


def _hf_repo(url: Any) -> str | None:
    match = _HF_REPO.match(url) if isinstance(url, str) else None
    return match.group(1) if match else None


def canonical_name_index(models: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Name keys of the provider-agnostic open-weights models (``models/<vendor>/<model>``).

    A model's own name is indexed before any Hugging Face repository id, so that
    ``MiniMax-M2.5`` finds ``minimax/MiniMax-M2.5`` and not a variant that reuses its weights.
    Among equals the alphabetically first id wins.

    Args:
        models: ``"vendor/model"`` -> models.dev fields (with ``weights`` for the repos).

    Returns:
        Name key -> ``"vendor/model"``.
    """
    open_ids = sorted(cid for cid, entry in models.items() if entry.get("open_weights") is True)
    index: dict[str, str] = {}
    for cid in open_ids:
        for key in name_keys(cid.split("/", 1)[-1]):
            index.setdefault(key, cid)
    for cid in open_ids:
        weights = models[cid].get("weights")
        for weight in weights if isinstance(weights, list) else ():
            repo = _hf_repo(weight.get("url")) if isinstance(weight, Mapping) else None
            for key in name_keys(repo) if repo else ():
                index.setdefault(key, cid)
    return index


def hosted_name_index(providers: Mapping[str, Mapping[str, list[Any]]]) -> dict[str, list[str]]:
    """Name keys of open-weights models as hosted providers list them.

    When several providers list a model under one key, the entry with the largest context
    window wins (hosts may cap a model's window, never raise it), then the alphabetically
    first provider and model id.

    Args:
        providers: Provider id -> model id -> compact row.

    Returns:
        Name key -> ``[provider id, model id]``.
    """
    best: dict[str, tuple[int, str, str]] = {}  # key -> (-context, provider, model): min wins
    for pid, models in providers.items():
        for mid, row in models.items():
            if len(row) <= 2 or not row[2] & _OPEN_WEIGHTS:
                continue
            context = row[5] if len(row) > 5 and row[5] is not None else 0
            candidate = (-context, pid, mid)
            for key in name_keys(mid):
                if key not in best or candidate < best[key]:
                    best[key] = candidate
    return {key: [pid, mid] for key, (_, pid, mid) in best.items()}


def build_document(
    providers: Mapping[str, Mapping[str, list[Any]]],
    models: Mapping[str, list[Any]],
    open_weights_models: Mapping[str, str],
    *,
    source: str,
    data_date: str | None,
    fetched_at: float | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Assemble a catalogue document (see the module docstring) from compact rows.

    Args:
        providers: Provider id -> model id -> compact row.
        models: ``"vendor/model"`` -> compact row (provider-agnostic facts).
        open_weights_models: From :func:`canonical_name_index`.
        source: Where the data came from, for humans.
        data_date: Newest ``last_updated`` in the data.
        fetched_at: Epoch seconds of a live fetch.
        url: The URL fetched.

    Returns:
        The document, ready for :func:`encode_document`.
    """
    return {
        "format": FORMAT,
        "source": source,
        "data_date": data_date,
        "fetched_at": fetched_at,
        "url": url,
        "providers": {pid: dict(rows) for pid, rows in providers.items() if rows},
        "models": dict(models),
        "open_weights_models": dict(open_weights_models),
        "open_weights_hosted": hosted_name_index(providers),
    }


def encode_document(document: Mapping[str, Any]) -> bytes:
    """Encode a document as compact JSON with sorted keys (byte-for-byte reproducible)."""
    return msgspec.json.encode(document, order="sorted") + b"\n"


# --- reading --------------------------------------------------------------------------------


class Catalogue:
    """A parsed catalogue document whose parts are decoded on first use.

    Thread-safe: parts are decoded at most once per provider (under a lock); the small name
    indexes may be decoded twice by racing first lookups, with equal results.
    """

    def __init__(self, data: bytes) -> None:
        """Parse a document.

        Args:
            data: The document's JSON bytes.

        Raises:
            ValueError: The bytes are not a catalogue document of this ``FORMAT``.
        """
        try:
            header = msgspec.json.decode(data, type=_Document)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a model profile catalogue: {exc}") from None
        if header.format != FORMAT:
            raise ValueError(f"catalogue format {header.format} is not {FORMAT}")
        self.source = header.source
        self.data_date = header.data_date
        self.fetched_at = header.fetched_at
        self.url = header.url
        self._raw_providers = header.providers
        self._raw_models = header.models
        self._raw_open_models = header.open_weights_models
        self._raw_open_hosted = header.open_weights_hosted
        self._lock = threading.Lock()
        self._providers: dict[str, dict[str, _Row]] = {}
        self._folded: dict[str, dict[str, str]] = {}
        self._models: dict[str, _Row] | None = None
        self._model_names: dict[str, list[str]] | None = None
        self._open_models: dict[str, str] | None = None
        self._open_hosted: dict[str, list[str]] | None = None

    def has_provider(self, provider_id: str) -> bool:
        """Whether the catalogue has a provider directory of that name."""
        return provider_id in self._raw_providers

    def _rows(self, provider_id: str) -> dict[str, _Row]:
        rows = self._providers.get(provider_id)
        if rows is None:
            raw = self._raw_providers.get(provider_id)
            with self._lock:
                rows = self._providers.get(provider_id)
                if rows is None:
                    rows = {} if raw is None else msgspec.json.decode(raw, type=dict[str, _Row])
                    self._providers[provider_id] = rows
        return rows

    def provider_row(self, provider_id: str, model_id: str) -> tuple[str, _Row] | None:
        """A provider's model by exact id, else by case-insensitive id.

        Returns:
            ``(catalogue model id, row)`` or None.
        """
        rows = self._rows(provider_id)
        row = rows.get(model_id)
        if row is not None:
            return model_id, row
        folded = self._folded.get(provider_id)
        if folded is None:
            folded = {}
            for known in sorted(rows):
                folded.setdefault(known.lower(), known)
            self._folded[provider_id] = folded
        mid = folded.get(model_id.lower())
        return (mid, rows[mid]) if mid is not None else None

    def model_row(self, canonical_id: str) -> _Row | None:
        """Provider-agnostic facts by ``"vendor/model"`` id."""
        return self._canonical().get(canonical_id)

    def models_named(self, name: str) -> list[str]:
        """``"vendor/model"`` ids whose model part equals ``name`` (case-insensitive)."""
        if self._model_names is None:
            names: dict[str, list[str]] = {}
            for cid in sorted(self._canonical()):
                names.setdefault(cid.split("/", 1)[-1].lower(), []).append(cid)
            self._model_names = names
        return self._model_names.get(name.lower(), [])

    def _canonical(self) -> dict[str, _Row]:
        if self._models is None:
            self._models = msgspec.json.decode(self._raw_models, type=dict[str, _Row])
        return self._models

    def open_weights_match(self, model_id: str) -> tuple[str, _Row] | None:
        """Open-weights facts for a model name, as :mod:`names` normalises it.

        Provider-agnostic models are tried first with every key, then hosted listings.

        Returns:
            ``(models.dev path, row)``, e.g. ``("models/alibaba/qwen3-32b", row)``, or None.
        """
        if self._open_models is None:
            self._open_models = msgspec.json.decode(self._raw_open_models, type=dict[str, str])
        if self._open_hosted is None:
            self._open_hosted = msgspec.json.decode(
                self._raw_open_hosted, type=dict[str, list[str]]
            )
        keys = name_keys(model_id)
        for key in keys:
            cid = self._open_models.get(key)
            row = self.model_row(cid) if cid is not None else None
            if row is not None:
                return f"models/{cid}", row
        for key in keys:
            ref = self._open_hosted.get(key)
            if ref is not None and len(ref) == 2:
                hit = self.provider_row(ref[0], ref[1])
                if hit is not None:
                    return f"providers/{ref[0]}/{hit[0]}", hit[1]
        return None

    @staticmethod
    def to_profile(
        row: _Row,
        *,
        model_id: str,
        provider: str | None,
        derived_from: str | None = None,
        priced: bool = True,
    ) -> ModelProfile:
        """A new :class:`ModelProfile` from a row (``priced=False`` leaves prices None)."""
        flags = row.flags
        cost = (
            ModelCost(
                input_per_million=row.cost_input,
                output_per_million=row.cost_output,
                cache_read_per_million=row.cost_cache_read,
                cache_write_per_million=row.cost_cache_write,
                reasoning_per_million=row.cost_reasoning,
            )
            if priced
            else ModelCost()
        )
        return ModelProfile(
            id=model_id,
            name=row.name,
            provider=provider,
            capabilities=ModelCapabilities(
                tool_call=bool(flags & _TOOL_CALL),
                structured_output=bool(flags & _STRUCTURED_OUTPUT),
                reasoning=bool(flags & _REASONING),
                attachment=bool(flags & _ATTACHMENT),
                temperature=bool(flags & _TEMPERATURE),
            ),
            modalities=ModelModalities(
                input=list(row.modalities_in), output=list(row.modalities_out)
            ),
            limits=ModelLimits(context=row.context, input=row.input_limit, output=row.output_limit),
            cost=cost,
            open_weights=bool(flags & _OPEN_WEIGHTS),
            family=row.family,
            release_date=row.release_date,
            base_model=row.base_model,
            derived_from=derived_from,
        )

    def raw_section(self, name: str) -> Any:
        """A section decoded to plain Python (used to carry it into a refreshed document)."""
        raw = {"models": self._raw_models, "open_weights_models": self._raw_open_models}[name]
        return msgspec.json.decode(raw)
