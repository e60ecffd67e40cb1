"""``lbchannel.aio.secure_channel`` / ``insecure_channel`` (as ``grpc.aio``'s)."""

from typing import Any, Iterable, Optional, Tuple

from .._tls import ChannelCredentials, _merge
from ._channel import Channel

__all__ = ["secure_channel", "insecure_channel"]


def secure_channel(target: str, credentials: ChannelCredentials,
                   options: Optional[Iterable[Tuple[str, Any]]] = None, **keywords: Any) -> Channel:
    """A TLS :class:`lbchannel.aio.Channel`; arguments as :func:`lbchannel.secure_channel`."""
    if not isinstance(credentials, ChannelCredentials):
        raise TypeError("credentials must come from lbchannel.ssl_channel_credentials()")
    merged = _merge(options, keywords)
    merged.update(credentials.options())
    return Channel(target, **merged)


def insecure_channel(target: str, options: Optional[Iterable[Tuple[str, Any]]] = None, **keywords: Any) -> Channel:
    """A plaintext :class:`lbchannel.aio.Channel`; arguments as :func:`lbchannel.insecure_channel`."""
    return Channel(target, **_merge(options, keywords))
