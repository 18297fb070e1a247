"""What a gateway call reports: which deployment answered, and every attempt on the way.

An answer carries ``response.metadata.gateway``::

    {"deployment": "local-b", "group": "small", "model": "llamacpp/smollm2",
     "attempts": [{"deployment": "local-a", "model": "llamacpp/smollm2",
                   "error": "ProviderConnectionError: ..."},
                  {"deployment": "local-b", "model": "llamacpp/smollm2", "error": None}]}

beside the answering call's own ``usage``. A call no deployment answered raises
``ModelRouterError`` with every attempt's exception; an error raised as it is (a bad
request, a content-policy refusal) gets a note listing the attempts before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from msgflux.errors import GatewayAttempt, ModelRouterError

if TYPE_CHECKING:
    from msgflux.gateway._deployments import Deployment

__all__ = ["AttemptLog"]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class AttemptLog:
    """The attempts of one call, in order."""

    __slots__ = ("_attempts",)

    def __init__(self) -> None:
        self._attempts: list[tuple[Deployment, BaseException | None]] = []

    def __len__(self) -> int:
        return len(self._attempts)

    def add(self, deployment: Deployment, error: BaseException | None) -> None:
        """Record an attempt (``error`` is ``None`` for the one that answered)."""
        self._attempts.append((deployment, error))

    def metadata(self, answering: Deployment) -> dict[str, Any]:
        """``metadata.gateway`` of an answer from ``answering`` (the response's metadata
        makes it a ``dotdict``)."""
        return {
            "deployment": answering.name,
            "group": answering.group,
            "model": answering.model_path,
            "attempts": [
                {
                    "deployment": deployment.name,
                    "model": deployment.model_path,
                    "error": None if error is None else _describe(error),
                }
                for deployment, error in self._attempts
            ],
        }

    def annotate(self, error: BaseException) -> BaseException:
        """``error``, with a note naming the attempts that failed before it (if any)."""
        earlier = [(d, e) for d, e in self._attempts if e is not None and e is not error]
        if earlier:
            tried = "; ".join(f"{d.name}: {_describe(e)}" for d, e in earlier)
            error.add_note(f"msgflux gateway: attempts before this one: {tried}")
        return error

    def router_error(
        self,
        groups: Sequence[str],
        unavailable: Mapping[str, str],
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
    ) -> ModelRouterError:
        """The ``ModelRouterError`` of a call no deployment answered (last error as cause)."""
        failed = self.failures()
        parts = [f"{d.name} ({d.model_path}): {_describe(e)}" for d, e in failed]
        parts += [f"{name}: not tried, {why}" for name, why in unavailable.items()]
        route = " -> ".join(repr(group) for group in groups)
        detail = "; ".join(parts) if parts else "no deployment to try"
        error = ModelRouterError(
            f"no deployment answered (groups {route}): {detail}",
            attempts=[GatewayAttempt(d.name, d.model_path, e) for d, e in failed],
            unavailable=unavailable,
            rate_limited=rate_limited,
            retry_after=retry_after,
        )
        if failed:
            error.__cause__ = failed[-1][1]
        return error

    def failures(self) -> list[tuple[Deployment, BaseException]]:
        """The failed attempts, ``(deployment, error)``, in order."""
        return [(d, e) for d, e in self._attempts if e is not None]

    def errors(self) -> list[Any]:
        """The failed attempts' exceptions, in order."""
        return [error for _, error in self._attempts if error is not None]
