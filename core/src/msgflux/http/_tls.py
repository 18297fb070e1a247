"""TLS settings: ``verify=`` (bool or CA bundle path) and ``ssl_context=``.

- ``ssl_context``: used as given (custom CA, client certificates with
  ``load_cert_chain``, pinned ciphers...); ``verify`` is then ignored.
- ``verify=True`` (default): the system trust store with hostname checking (``certifi``
  when the system has no CA bundle and it is installed).
- ``verify="/path/ca.pem"`` (a file or a directory of hashed certificates): that bundle
  instead of the system's.
- ``verify=False``: no certificate or hostname check (never in production).

The context is built on first use: loading CA certificates takes milliseconds that
plain-``http://`` clients should not pay.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

__all__ = ["check_verify", "make_ssl_context"]


def check_verify(verify: Any) -> bool | str:
    """Validate a ``verify=`` value.

    Raises:
        ValueError: Neither a bool nor the path of an existing file or directory.
    """
    if isinstance(verify, bool):
        return verify
    if isinstance(verify, str | os.PathLike):
        path = os.fspath(verify)
        if not os.path.exists(path):
            raise ValueError(f"verify= names a CA bundle that does not exist: {path!r}")
        return path
    raise ValueError(
        f"verify must be True, False or the path of a CA bundle, got {type(verify).__name__}"
    )


def make_ssl_context(verify: bool | str = True) -> ssl.SSLContext:
    """The client TLS context for a ``verify=`` value (see the module docstring)."""
    import ssl

    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        else:
            context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
        if not context.get_ca_certs() and not context.cert_store_stats().get("x509_ca"):
            # No system CA bundle (some minimal images): fall back to certifi if present.
            try:
                import certifi  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                pass
            else:
                context.load_verify_locations(certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context
