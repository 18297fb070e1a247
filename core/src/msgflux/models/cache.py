"""Compatibility: the response cache moved to ``msgflux.cache``."""

from __future__ import annotations

from msgflux.cache import ResponseCache, request_cache_key

__all__ = ["ResponseCache", "request_cache_key"]
