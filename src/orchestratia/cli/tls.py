"""``hub serve --ssl-certfile/--ssl-keyfile``: check the certificate and key before binding, so a
wrong path or file is one line saying what is wrong and what to do, not a uvicorn traceback."""

from __future__ import annotations

import ssl
import stat
import sys
from pathlib import Path

from .errors import CliError

CERT_FLAG = "--ssl-certfile (ORCHESTRATIA_SSL_CERTFILE)"
KEY_FLAG = "--ssl-keyfile (ORCHESTRATIA_SSL_KEYFILE)"


class _EncryptedKey(Exception):
    """The key has a passphrase (the hub never prompts for one)."""


def _no_passphrase() -> str:
    raise _EncryptedKey


def read_pem(path: Path, what: str, flag: str) -> bytes:
    """The file's bytes, or a CliError naming the file, the flag and the fix."""
    if not path.exists():
        raise CliError(f"the TLS {what} {path} (from {flag}) does not exist: give the path of a PEM file")
    if not path.is_file():
        raise CliError(f"the TLS {what} {path} (from {flag}) is not a file: give the path of a PEM file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(
            f"cannot read the TLS {what} {path} (from {flag}): {exc.strerror or exc}; "
            "make it readable by the user that runs the hub"
        ) from exc


def _warn_if_shared(key: Path) -> None:
    mode = key.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        sys.stderr.write(
            f"warning: the TLS private key {key} can be read by other users (mode {stat.S_IMODE(mode):o}): "
            f"chmod 600 {key}\n"
        )


def check_server_tls(certfile: Path | None, keyfile: Path | None) -> None:
    """Raise a CliError unless ``certfile`` (+ ``keyfile``) load as a server certificate.

    No certfile and no keyfile: plain HTTP, nothing to check."""
    if certfile is None:
        if keyfile is not None:
            raise CliError(f"{KEY_FLAG} needs {CERT_FLAG}: give the certificate as well")
        return
    cert_pem = read_pem(certfile, "certificate", CERT_FLAG)
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise CliError(f"the TLS certificate {certfile} is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)")
    key = keyfile or certfile
    key_pem = read_pem(keyfile, "private key", KEY_FLAG) if keyfile else cert_pem
    if b"PRIVATE KEY-----" not in key_pem:
        if keyfile is None:
            raise CliError(f"the TLS certificate {certfile} holds no private key: give the key with --ssl-keyfile")
        raise CliError(f"the TLS private key {keyfile} is not a PEM private key (no '-----BEGIN ... PRIVATE KEY-----' line)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_passphrase)
    except _EncryptedKey:
        raise CliError(
            f"the TLS private key {key} is encrypted: the hub cannot ask for its passphrase; write an unencrypted "
            f"copy readable only by the hub's user (openssl pkey -in {key} -out hub-key.pem && chmod 600 hub-key.pem)"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise CliError(
                f"the TLS private key {key} does not belong to the certificate {certfile}: give the key it was issued "
                "for (the first certificate in the file must be the hub's own, then its intermediates)"
            ) from None
        raise CliError(f"cannot load the TLS certificate {certfile} with the key {key}: {exc}") from None
    _warn_if_shared(key)
