"""``lbchannel.aio.secure_channel`` / ``insecure_channel`` (as ``grpc.aio``'s)."""

from typing import Any, Optional, Sequence

from .._options import Options, channel_options
from .._tls import ChannelCredentials
from ._channel import Channel

__all__ = ["secure_channel", "insecure_channel"]


def secure_channel(target: str, credentials: ChannelCredentials, options: Options = None,
                   interceptors: Optional[Sequence[Any]] = None, **lbchannel_options: Any) -> Channel:
    """A TLS :class:`lbchannel.aio.Channel`, as ``grpc.aio.secure_channel``.

    ``options`` and ``**lbchannel_options`` as for :func:`lbchannel.secure_channel`
    (an unsupported ``grpc.*`` key raises :class:`lbchannel.UnknownOptionError`);
    ``interceptors`` as for ``grpc.aio.secure_channel`` (grpc.aio client interceptors).
    """
    if not isinstance(credentials, ChannelCredentials):
        raise TypeError("credentials must come from lbchannel.ssl_channel_credentials()")
    merged = channel_options(options, lbchannel_options)
    merged.update(credentials.options())
    return Channel(target, interceptors=interceptors, **merged)


def insecure_channel(target: str, options: Options = None,
                     interceptors: Optional[Sequence[Any]] = None, **lbchannel_options: Any) -> Channel:
    """A plaintext :class:`lbchannel.aio.Channel`, as ``grpc.aio.insecure_channel``;
    arguments as for :func:`secure_channel`."""
    return Channel(target, interceptors=interceptors, **channel_options(options, lbchannel_options))
