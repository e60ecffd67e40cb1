"""``lbchannel.aio.secure_channel`` / ``insecure_channel`` (as ``grpc.aio``'s)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Union

from .._callbacks import LogFn, LookupFn
from .._grpc import ClientInterceptor
from .._options import ChannelOptions, Options, channel_options
from .._tls import ChannelCredentials, tls_options
from ._channel import Channel

if TYPE_CHECKING:
    from typing_extensions import Unpack


def secure_channel(target: str, credentials: ChannelCredentials, options: Options = None,
                   interceptors: Optional[Sequence[ClientInterceptor]] = None, *,
                   lookup: Optional[LookupFn] = None, log_callback: Union[LogFn, bool, None] = None,
                   **lbchannel_options: Unpack[ChannelOptions]) -> Channel:
    """A TLS :class:`lbchannel.aio.Channel`, as ``grpc.aio.secure_channel``.

    ``options``, ``lookup``, ``log_callback`` and ``**lbchannel_options`` as for
    :func:`lbchannel.secure_channel` (an unsupported ``grpc.*`` key raises
    :class:`lbchannel.UnknownOptionError`); ``interceptors`` as for
    ``grpc.aio.secure_channel`` (grpc.aio client interceptors).
    """
    merged = tls_options(credentials, options, lbchannel_options)
    return Channel(target, lookup, log_callback, interceptors, **merged)


def insecure_channel(target: str, options: Options = None,
                     interceptors: Optional[Sequence[ClientInterceptor]] = None, *,
                     lookup: Optional[LookupFn] = None, log_callback: Union[LogFn, bool, None] = None,
                     **lbchannel_options: Unpack[ChannelOptions]) -> Channel:
    """A plaintext :class:`lbchannel.aio.Channel`, as ``grpc.aio.insecure_channel``;
    arguments as for :func:`secure_channel`."""
    return Channel(target, lookup, log_callback, interceptors, **channel_options(options, lbchannel_options))
