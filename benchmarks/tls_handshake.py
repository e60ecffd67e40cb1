#!/usr/bin/env python3
"""TLS handshake time per endpoint, full vs resumed, through lbchannel's own figures.

Starts one grpcio TLS backend (Tests/python/backend.py) that sends GOAWAY to every
connection after ``--age-ms`` (grpc.max_connection_age_ms), so an lbchannel channel
keeps reconnecting to the same server process: its first connection makes a full
handshake, the following ones resume the session (tls_session_resumption, on by
default). Runs once with resumption and once without, for an EC P-256 and an
RSA-2048 server certificate, and prints one JSON object:

    {"ec": {"resumed": {...stats "tls" object...}, "full_only": {...}}, "rsa": {...}}

The durations are ClientHello to Finished on the client (lbc_channel_stats_json's
"tls" object, polled after every call so each handshake is seen; medians added as
"median_full_handshake_us" / "median_resumed_handshake_us", and the time from the TCP
connect to READY as "median_full_ready_us" / "median_resumed_ready_us"). The very first full
handshake of each run also pays for the server's first connection. Needs LBCHANNEL_LIBRARY / PYTHONPATH like the other drivers.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "python"))

import lbchannel  # noqa: E402
import tls_certs  # noqa: E402
from lbtest_support import Backend, free_port  # noqa: E402


def measure(pki, cert, resumption, seconds, age_ms):
    port = free_port(("127.0.0.1",))
    env = {"LBTEST_TLS_CERT": str(pki / (cert + ".pem")), "LBTEST_TLS_KEY": str(pki / (cert + ".key")),
           "LBTEST_MAX_CONNECTION_AGE_MS": str(age_ms)}
    backend = Backend("127.0.0.1:%d" % port, "hs", None, env).start()
    try:
        creds = lbchannel.ssl_channel_credentials((pki / "ca.pem").read_bytes())
        with lbchannel.secure_channel("ipv4:127.0.0.1:%d" % port, creds, tls_server_name="svc.test",
                                      tls_session_resumption=resumption) as ch:
            # Polled after every call: each new handshake's duration is seen as "last_*".
            seen = {"full": [], "resumed": [], "full_ready": [], "resumed_ready": []}
            counts = (0, 0)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                ch.unary("/lbtest.Test/Whoami", b"", timeout=5)
                t = ch.endpoints()[0]["tls"]
                now = (t["full_handshakes"], t["resumed_handshakes"])
                # A call completes only on a READY connection: the new connection's
                # time to READY is recorded by now too.
                if now[0] == counts[0] + 1 and now[1] == counts[1]:
                    seen["full"].append(t["last_full_handshake_us"])
                    seen["full_ready"].append(t["last_full_ready_us"])
                elif now[1] == counts[1] + 1 and now[0] == counts[0]:
                    seen["resumed"].append(t["last_resumed_handshake_us"])
                    seen["resumed_ready"].append(t["last_resumed_ready_us"])
                counts = now
                time.sleep(0.005)
            t = ch.endpoints()[0]["tls"]
            for kind in ("full", "resumed"):
                t["median_%s_handshake_us" % kind] = statistics.median(seen[kind]) if seen[kind] else None
                ready = seen[kind + "_ready"]
                t["median_%s_ready_us" % kind] = statistics.median(ready) if ready else None
                t["%s_samples" % kind] = len(seen[kind])
            return t
    finally:
        backend.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--age-ms", type=int, default=200)
    a = ap.parse_args()
    out = {}
    with tempfile.TemporaryDirectory(prefix="lbc-hs-") as d:
        pki = tls_certs.make_pki(d)
        tls_certs.make_leaf(d, "server-rsa", "ca", "svc.test", san="DNS:svc.test", algorithm="RSA")
        for kind, cert in (("ec", "server"), ("rsa", "server-rsa")):
            out[kind] = {"resumed": measure(pki, cert, True, a.seconds, a.age_ms),
                         "full_only": measure(pki, cert, False, a.seconds, a.age_ms)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
