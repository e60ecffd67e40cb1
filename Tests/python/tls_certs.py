"""Test certificates made with the ``openssl`` command (no checked-in keys).

:func:`make_pki` writes, into a directory:

* ``ca.pem`` / ``ca.key``: the test CA;
* ``server.pem`` / ``server.key``: ``svc.test`` (DNS SAN only, no IP SAN), signed by the CA;
* ``expired.pem`` / ``expired.key``: ``svc.test``, valid only in 2020;
* ``other.pem`` / ``other.key``: ``other.test`` (wrong name for ``svc.test``);
* ``client.pem`` / ``client.key``: a client certificate signed by the CA;
* ``rogue-ca.pem``, ``rogue-client.pem`` / ``rogue-client.key``: an untrusted CA and a client
  certificate it signed;
* ``server-rogue.pem`` / ``server-rogue.key``: ``svc.test`` signed by the untrusted CA.
"""

import subprocess
from pathlib import Path

OPENSSL = "openssl"


def _run(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(d, name, algorithm="EC"):
    if algorithm == "RSA":
        _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name + ".key", cwd=d)
    else:
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=d)


def make_ca(d, name, subject):
    """A self-signed CA ``name.pem`` / ``name.key`` in ``d``."""
    d = Path(d)
    _key(d, name)
    _run("req", "-x509", "-new", "-key", name + ".key", "-subj", "/CN=" + subject, "-days", "30",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-out", name + ".pem", cwd=d)


def make_leaf(d, name, ca, cn, san=None, client=False, expired=False, algorithm="EC"):
    """A certificate ``name.pem`` / ``name.key`` (an EC P-256 or RSA-2048 key) signed by
    CA ``ca`` (files in ``d``)."""
    d = Path(d)
    _key(d, name, algorithm)
    _run("req", "-new", "-key", name + ".key", "-subj", "/CN=" + cn, "-out", name + ".csr", cwd=d)
    ext = ["basicConstraints=CA:FALSE",
           "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth")]
    if san:
        ext.append("subjectAltName=" + san)
    (d / (name + ".ext")).write_text("\n".join(ext) + "\n")
    if expired:
        # `openssl x509 -req` cannot back-date: sign with `openssl ca` and explicit dates.
        db = d / (name + "-db")
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text("1000\n")
        (d / (name + ".cnf")).write_text(
            "[ca]\ndefault_ca=tca\n[tca]\ndatabase=%s/index.txt\nserial=%s/serial\nnew_certs_dir=%s\n"
            "default_md=sha256\npolicy=p\ncopy_extensions=none\nunique_subject=no\n[p]\ncommonName=supplied\n"
            % (db, db, db))
        _run("ca", "-batch", "-config", name + ".cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key",
             "-in", name + ".csr", "-out", name + ".pem", "-startdate", "20200101000000Z",
             "-enddate", "20200201000000Z", "-extfile", name + ".ext", "-notext", cwd=d)
    else:
        _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-CAcreateserial", "-days", "30", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)
    return d / (name + ".pem"), d / (name + ".key")


def make_pki(d):
    """Every certificate of this module's docstring, in directory ``d``; returns ``Path(d)``."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    make_ca(d, "ca", "lbchannel test CA")
    make_ca(d, "rogue-ca", "untrusted test CA")
    make_leaf(d, "server", "ca", "svc.test", san="DNS:svc.test")
    make_leaf(d, "expired", "ca", "svc.test", san="DNS:svc.test", expired=True)
    make_leaf(d, "other", "ca", "other.test", san="DNS:other.test")
    make_leaf(d, "client", "ca", "lbchannel test client", client=True)
    make_leaf(d, "rogue-client", "rogue-ca", "rogue client", client=True)
    make_leaf(d, "server-rogue", "rogue-ca", "svc.test", san="DNS:svc.test")
    return d
