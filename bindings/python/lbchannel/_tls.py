"""TLS for lbchannel channels in grpcio's shapes: :func:`ssl_channel_credentials`,
:func:`secure_channel` and :func:`insecure_channel`.

::

    import lbchannel

    creds = lbchannel.ssl_channel_credentials(root_certificates=open("ca.pem", "rb").read())
    with lbchannel.secure_channel("dns:///api.internal:443", creds) as channel:
        reply = channel.unary("/pkg.Service/Method", b"request", timeout=2.0)

Certificate verification is always on: the server's certificate must chain to
the given roots (the system's default roots when ``root_certificates`` is None)
and name the target's host name (``api.internal`` above), or the
``tls_server_name`` option (grpcio's ``grpc.ssl_target_name_override``).
The grpcio channel arguments understood in ``options`` are listed in
:mod:`lbchannel._options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ._callbacks import LogFn, LookupFn
from ._channel import Channel
from ._options import ChannelOptions, Options, channel_options

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

_Pem = Optional[Union[bytes, str]]


def _pem(value: _Pem, what: str) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("ascii")
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError("%s must be bytes (PEM), not %s" % (what, type(value).__name__))
    if not value:
        raise ValueError("%s is empty" % what)
    return bytes(value)


class ChannelCredentials:
    """TLS settings for :func:`secure_channel` (made by :func:`ssl_channel_credentials`).

    Attributes are the PEM bytes given (or None); :meth:`options` gives the
    equivalent channel options (``tls``, ``tls_ca_pem``, ``tls_cert_pem``,
    ``tls_key_pem``).
    """

    def __init__(self, root_certificates: Optional[bytes], private_key: Optional[bytes],
                 certificate_chain: Optional[bytes]) -> None:
        self.root_certificates = root_certificates
        self.private_key = private_key
        self.certificate_chain = certificate_chain

    def options(self) -> Dict[str, Any]:
        """The channel options these credentials stand for."""
        pems = {"tls_ca_pem": self.root_certificates, "tls_cert_pem": self.certificate_chain,
                "tls_key_pem": self.private_key}
        return {"tls": True, **{key: pem for key, pem in pems.items() if pem is not None}}

    def __repr__(self) -> str:
        return "ChannelCredentials(roots=%s, client_certificate=%s)" % (
            "custom" if self.root_certificates else "system",
            "yes" if self.certificate_chain else "no",
        )


def ssl_channel_credentials(root_certificates: _Pem = None, private_key: _Pem = None,
                            certificate_chain: _Pem = None) -> ChannelCredentials:
    """TLS credentials, as ``grpc.ssl_channel_credentials``.

    Args:
        root_certificates: PEM bytes of the trusted CA certificates; None for the
            system's default roots.
        private_key: PEM bytes of the client's private key (mutual TLS), with
            ``certificate_chain``.
        certificate_chain: PEM bytes of the client certificate chain, leaf first.

    Raises:
        ValueError: a key without a certificate chain or the reverse, or empty PEM.
        TypeError: a value that is not bytes or str.
    """
    roots = _pem(root_certificates, "root_certificates")
    key = _pem(private_key, "private_key")
    chain = _pem(certificate_chain, "certificate_chain")
    if (key is None) != (chain is None):
        raise ValueError("private_key and certificate_chain go together (mutual TLS needs both)")
    return ChannelCredentials(roots, key, chain)


def tls_options(credentials: ChannelCredentials, options: Options, keywords: ChannelOptions) -> Dict[str, Any]:
    """The options of a TLS channel: ``options`` and ``keywords`` (see
    :func:`lbchannel._options.channel_options`) with those of ``credentials``."""
    if not isinstance(credentials, ChannelCredentials):
        raise TypeError("credentials must come from lbchannel.ssl_channel_credentials()")
    return {**channel_options(options, keywords), **credentials.options()}


def secure_channel(target: str, credentials: ChannelCredentials, options: Options = None, *,
                   lookup: Optional[LookupFn] = None, log_callback: Union[LogFn, bool, None] = None,
                   **lbchannel_options: Unpack[ChannelOptions]) -> Channel:
    """A TLS :class:`lbchannel.Channel`, as ``grpc.secure_channel``.

    Args:
        target: as for :class:`lbchannel.Channel`.
        credentials: from :func:`ssl_channel_credentials`.
        options: grpcio's channel arguments, ``[(key, value), ...]``: the
            ``grpc.*`` keys of :data:`lbchannel._options.GRPC_OPTION_NAMES`
            (``grpc.ssl_target_name_override``, ``grpc.default_authority``,
            ``grpc.max_receive_message_length``, ``grpc.service_config``, ...) or
            lbchannel option names.
        lookup, log_callback: as for :class:`lbchannel.Channel`.
        **lbchannel_options: lbchannel options (:class:`lbchannel.ChannelOptions`;
            they win over ``options``).

    Raises:
        lbchannel.UnknownOptionError: a ``grpc.*`` key without an lbchannel
            equivalent (the message lists the supported ones), or an unknown
            lbchannel option.
        TypeError: credentials not made by :func:`ssl_channel_credentials`.
    """
    return Channel(target, lookup, log_callback, **tls_options(credentials, options, lbchannel_options))


def insecure_channel(target: str, options: Options = None, *, lookup: Optional[LookupFn] = None,
                     log_callback: Union[LogFn, bool, None] = None,
                     **lbchannel_options: Unpack[ChannelOptions]) -> Channel:
    """A plaintext (h2c) :class:`lbchannel.Channel`, as ``grpc.insecure_channel``.

    Arguments as for :func:`secure_channel`; an unsupported ``grpc.*`` key raises
    :class:`lbchannel.UnknownOptionError`.

    Example::

        channel = lbchannel.insecure_channel(
            "dns:///api.internal:50051",
            options=[("grpc.lb_policy_name", "round_robin"),
                     ("grpc.max_receive_message_length", 16 << 20)],
            discovery_interval_ms=5000)
    """
    return Channel(target, lookup, log_callback, **channel_options(options, lbchannel_options))
