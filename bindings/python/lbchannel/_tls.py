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
"""

from typing import Any, Dict, Iterable, Optional, Tuple, Union

__all__ = ["ChannelCredentials", "ssl_channel_credentials", "secure_channel", "insecure_channel"]

_Pem = Optional[Union[bytes, str]]

#: grpcio channel-argument names that map onto lbchannel options.
_GRPC_OPTION_NAMES = {
    "grpc.ssl_target_name_override": "tls_server_name",
    "grpc.default_authority": "authority",
    "grpc.primary_user_agent": "user_agent",
    "grpc.max_send_message_length": "max_send_message_size",
    "grpc.max_receive_message_length": "max_receive_message_size",
    "grpc.keepalive_time_ms": "keepalive_time_ms",
    "grpc.keepalive_timeout_ms": "keepalive_timeout_ms",
    "grpc.keepalive_permit_without_calls": "keepalive_permit_without_calls",
    "grpc.per_rpc_retry_buffer_size": "retry_buffer_bytes",
}


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
                 certificate_chain: Optional[bytes]):
        self.root_certificates = root_certificates
        self.private_key = private_key
        self.certificate_chain = certificate_chain

    def options(self) -> Dict[str, Any]:
        """The channel options these credentials stand for."""
        opts: Dict[str, Any] = {"tls": True}
        if self.root_certificates is not None:
            opts["tls_ca_pem"] = self.root_certificates
        if self.certificate_chain is not None:
            opts["tls_cert_pem"] = self.certificate_chain
        if self.private_key is not None:
            opts["tls_key_pem"] = self.private_key
        return opts

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


def _merge(options: Optional[Iterable[Tuple[str, Any]]], keywords: Dict[str, Any]) -> Dict[str, Any]:
    """grpcio-style ``options=[(key, value), ...]`` plus keyword options; grpc.*
    names that lbchannel knows are translated, the others are rejected by the library."""
    merged: Dict[str, Any] = {}
    for key, value in options or ():
        merged[_GRPC_OPTION_NAMES.get(key, key)] = value
    merged.update(keywords)
    return merged


def secure_channel(target: str, credentials: ChannelCredentials,
                   options: Optional[Iterable[Tuple[str, Any]]] = None, **keywords: Any):
    """A TLS :class:`lbchannel.Channel`, as ``grpc.secure_channel``.

    ``options`` is grpcio's list of ``(key, value)`` pairs (lbchannel option
    names, or ``grpc.ssl_target_name_override``, ``grpc.default_authority``,
    ``grpc.primary_user_agent``, ``grpc.max_*_message_length``,
    ``grpc.keepalive_time_ms``, ``grpc.keepalive_timeout_ms``,
    ``grpc.keepalive_permit_without_calls``); keyword
    arguments are lbchannel options and ``lookup`` / ``log_callback``.
    """
    from ._channel import Channel

    if not isinstance(credentials, ChannelCredentials):
        raise TypeError("credentials must come from lbchannel.ssl_channel_credentials()")
    merged = _merge(options, keywords)
    merged.update(credentials.options())
    return Channel(target, **merged)


def insecure_channel(target: str, options: Optional[Iterable[Tuple[str, Any]]] = None, **keywords: Any):
    """A plaintext (h2c) :class:`lbchannel.Channel`, as ``grpc.insecure_channel``."""
    from ._channel import Channel

    return Channel(target, **_merge(options, keywords))
