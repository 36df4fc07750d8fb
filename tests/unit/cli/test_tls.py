"""``hub serve --ssl-certfile/--ssl-keyfile``: bad files are one line saying what is wrong and
what to do, before anything binds; good ones reach uvicorn. Certificates from trustme."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from orchestratia.cli.cmd_hub import build_settings, uvicorn_tls
from orchestratia.cli.main import app

CA = trustme.CA()


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, Path]:
    server = CA.issue_cert("127.0.0.1", "localhost")
    other = CA.issue_cert("localhost")
    files = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "both", "other_key", "ca", "junk")}
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(files["both"]))
    other.private_key_pem.write_to_path(str(files["other_key"]))
    CA.cert_pem.write_to_path(str(files["ca"]))
    files["junk"].write_text("hello\n")
    for path in files.values():
        path.chmod(0o600)
    return files


def serve(tmp_path: Path, *args: str) -> tuple[int, str]:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    with port:  # the port is taken: a TLS error must come before any attempt to bind
        argv = ["hub", "serve", "--port", str(port.getsockname()[1]), "--data-dir", str(tmp_path / "data"), *args]
        result = CliRunner().invoke(app, argv)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case, args, expected", [
    ("missing cert", ["--ssl-certfile", "{tmp}/nope.pem", "--ssl-keyfile", "{key}"],
     "the TLS certificate {tmp}/nope.pem (from --ssl-certfile (ORCHESTRATIA_SSL_CERTFILE)) does not exist"),
    ("missing key", ["--ssl-certfile", "{cert}", "--ssl-keyfile", "{tmp}/nope.pem"],
     "the TLS private key {tmp}/nope.pem (from --ssl-keyfile (ORCHESTRATIA_SSL_KEYFILE)) does not exist"),
    ("directory", ["--ssl-certfile", "{tmp}", "--ssl-keyfile", "{key}"], "is not a file"),
    ("key only", ["--ssl-keyfile", "{key}"], "--ssl-keyfile (ORCHESTRATIA_SSL_KEYFILE) needs --ssl-certfile"),
    ("not PEM", ["--ssl-certfile", "{junk}", "--ssl-keyfile", "{key}"], "is not a PEM certificate"),
    ("key not PEM", ["--ssl-certfile", "{cert}", "--ssl-keyfile", "{junk}"], "is not a PEM private key"),
    ("no key at all", ["--ssl-certfile", "{cert}"], "holds no private key: give the key with --ssl-keyfile"),
    ("wrong key", ["--ssl-certfile", "{cert}", "--ssl-keyfile", "{other_key}"], "does not belong to the certificate"),
    ("CA as cert", ["--ssl-certfile", "{ca}", "--ssl-keyfile", "{key}"], "does not belong to the certificate"),
])
def test_bad_tls_files_are_one_line_before_binding(tmp_path: Path, pem: dict[str, Path], case: str,
                                                   args: list[str], expected: str) -> None:
    names = {"tmp": tmp_path, **pem}
    code, stderr = serve(tmp_path, *(a.format(**names) for a in args))
    assert code == 1, case
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert expected.format(**names) in stderr, stderr


def test_encrypted_key_is_refused_without_prompting(tmp_path: Path, pem: dict[str, Path]) -> None:
    encrypted = tmp_path / "enc.pem"
    subprocess.run(["openssl", "pkey", "-in", str(pem["key"]), "-out", str(encrypted), "-aes256",
                    "-passout", "pass:secret"], check=True, capture_output=True)
    code, stderr = serve(tmp_path, "--ssl-certfile", str(pem["cert"]), "--ssl-keyfile", str(encrypted))
    assert code == 1 and f"the TLS private key {encrypted} is encrypted" in stderr and "openssl pkey" in stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_says_so(tmp_path: Path, pem: dict[str, Path]) -> None:
    pem["key"].chmod(0)
    code, stderr = serve(tmp_path, "--ssl-certfile", str(pem["cert"]), "--ssl-keyfile", str(pem["key"]))
    assert code == 1 and f"cannot read the TLS private key {pem['key']}" in stderr and "readable" in stderr


def test_good_files_reach_uvicorn_and_the_public_url(monkeypatch, tmp_path: Path, pem: dict[str, Path]) -> None:
    settings = build_settings(ssl_certfile=str(pem["cert"]), ssl_keyfile=str(pem["key"]), port=8443)
    assert uvicorn_tls(settings) == {"ssl_certfile": str(pem["cert"]), "ssl_keyfile": str(pem["key"])}
    assert settings.effective_public_url() == "https://127.0.0.1:8443"
    combined = build_settings(ssl_certfile=str(pem["both"]))
    assert uvicorn_tls(combined) == {"ssl_certfile": str(pem["both"])}
    assert uvicorn_tls(build_settings()) == {}
    monkeypatch.setenv("ORCHESTRATIA_SSL_CERTFILE", str(pem["cert"]))
    monkeypatch.setenv("ORCHESTRATIA_SSL_KEYFILE", "")
    from_env = build_settings()
    assert (from_env.ssl_certfile, from_env.ssl_keyfile) == (pem["cert"], None)


def test_env_settings_are_checked_too(monkeypatch, tmp_path: Path, pem: dict[str, Path]) -> None:
    monkeypatch.setenv("ORCHESTRATIA_SSL_CERTFILE", str(pem["cert"]))
    monkeypatch.setenv("ORCHESTRATIA_SSL_KEYFILE", str(pem["other_key"]))
    code, stderr = serve(tmp_path)
    assert code == 1 and "does not belong to the certificate" in stderr


def test_a_shared_key_is_a_warning_not_an_error(tmp_path: Path, pem: dict[str, Path], capsys) -> None:
    from orchestratia.cli.tls import check_server_tls

    check_server_tls(pem["cert"], pem["key"])
    assert capsys.readouterr().err == ""
    pem["key"].chmod(0o644)
    check_server_tls(pem["cert"], pem["key"])
    assert capsys.readouterr().err == (f"warning: the TLS private key {pem['key']} can be read by other users "
                                       f"(mode 644): chmod 600 {pem['key']}\n")


def test_agent_register_ca_bundle_is_checked(tmp_path: Path, pem: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["agent", "register", "orcreg_x.y", "--config", str(tmp_path / "c.yaml"),
                                      "--ca-bundle", str(pem["junk"])])
    assert result.exit_code == 1 and "ca_bundle:" in result.stderr and "no usable PEM CA certificate" in result.stderr
    assert not (tmp_path / "c.yaml").exists()
