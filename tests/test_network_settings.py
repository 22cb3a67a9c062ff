"""The network settings (providers/transport/proxy.py, network.py; gateway/settings.py): which
proxy each provider uses, NO_PROXY's semantics, the CA and certificate files, and one clear
start-up line for each setting that cannot be used. Real proxies: tests/test_proxies.py."""

from __future__ import annotations

import os

import pytest

from gateway.settings import SettingsError, provider_configs, provider_settings
from providers.transport import EnvironmentProxies, NoProxy, Proxy, ProxyURLError, network_for
from tests.support.gateways import make_settings
from tests.support.proxies import Certificates

SECRET = "s3cr3t-pa55"


# -- proxy URLs ---------------------------------------------------------------------------------


def test_a_proxy_url_with_credentials_never_shows_them():
    proxy = Proxy.parse(f"http://alice:{SECRET.replace('-', '%2D')}@proxy.corp:3128", "HTTPS_PROXY")
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == (
        "proxy.corp",
        3128,
        "alice",
        SECRET,
    )
    assert proxy.authorization() == b"Basic YWxpY2U6czNjcjN0LXBhNTU="
    for shown in (repr(proxy), proxy.display, str(proxy)):
        assert SECRET not in shown and "alice" not in shown
    assert proxy.scrub(f"echoed {SECRET}") == "echoed ***"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("proxy.corp:3128", ("http", "proxy.corp", 3128)),  # no scheme: http, as curl reads it
        ("http://proxy.corp", ("http", "proxy.corp", 80)),
        ("https://proxy.corp", ("https", "proxy.corp", 443)),
        ("HTTP://[fd00::1]:8080/", ("http", "fd00::1", 8080)),
    ],
)
def test_proxy_urls(url, expected):
    proxy = Proxy.parse(url)
    assert (proxy.scheme, proxy.host, proxy.port) == expected


@pytest.mark.parametrize("url", ["socks5://proxy:1080", "socks5h://u:p@proxy:1080", "socks4://p"])
def test_socks_is_refused_with_a_reason(url):
    with pytest.raises(ProxyURLError, match="not supported: give an HTTP proxy"):
        Proxy.parse(url, "ALL_PROXY")


@pytest.mark.parametrize("url", ["ftp://proxy", "http://", "http://proxy:99999"])
def test_unusable_proxy_urls(url):
    with pytest.raises(ProxyURLError):
        Proxy.parse(url)


# -- NO_PROXY -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("*", "api.openai.com", 443, True),
        ("openai.com", "api.openai.com", 443, True),  # a suffix on a dot boundary
        ("openai.com", "openai.com", 443, True),
        ("openai.com", "notopenai.com", 443, False),
        (".openai.com", "api.openai.com", 443, True),
        ("*.openai.com", "api.openai.com", 443, True),
        ("API.OpenAI.com.", "api.openai.com", 443, False),  # a trailing dot is another name
        (" other.com , api.openai.com ", "API.OPENAI.COM", 443, True),  # spaces, case
        ("api.openai.com:8443", "api.openai.com", 443, False),
        ("api.openai.com:8443", "api.openai.com", 8443, True),
        ("10.0.0.0/8", "10.20.30.40", 443, True),
        ("10.0.0.0/8", "11.0.0.1", 443, False),
        ("10.0.0.0/8", "ten.example", 443, False),  # names are not resolved for CIDRs
        ("192.168.1.5", "192.168.1.5", 443, True),
        ("192.168.1.5:443", "192.168.1.5", 80, False),
        ("fd00::/8", "fd00::1", 443, True),
        ("[fd00::1]:443", "[fd00::1]", 443, True),
        ("", "api.openai.com", 443, False),
    ],
)
def test_no_proxy(no_proxy, host, port, direct):
    assert NoProxy.parse(no_proxy).matches(host, port) is direct


# -- the standard variables ---------------------------------------------------------------------


def chosen(environ: dict[str, str], url: str = "https://api.anthropic.com") -> Proxy | None:
    return network_for(url, environ).proxy


def test_https_proxy_for_https_and_http_proxy_for_http():
    environ = {"HTTPS_PROXY": "http://secure:1", "HTTP_PROXY": "http://plain:2"}
    assert chosen(environ).host == "secure"
    assert chosen(environ, "http://api.example.test").host == "plain"


def test_all_proxy_when_the_schemes_own_is_unset():
    assert chosen({"ALL_PROXY": "http://every:1"}).host == "every"
    assert chosen({"ALL_PROXY": "http://every:1", "HTTPS_PROXY": "http://own:2"}).host == "own"


def test_lowercase_wins_and_empty_means_unset():
    assert chosen({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}).host == (
        "lower"
    )
    assert chosen({"https_proxy": " ", "HTTPS_PROXY": "http://upper:2"}).host == "upper"
    assert chosen({"HTTPS_PROXY": ""}) is None


def test_http_proxy_is_ignored_in_a_cgi_request():
    # httpoxy: a CGI request's "Proxy:" header arrives as HTTP_PROXY.
    environ = {"REQUEST_METHOD": "POST", "HTTP_PROXY": "http://attacker:1"}
    assert chosen(environ, "http://api.example.test") is None


def test_no_proxy_and_loopback_go_direct():
    environ = {"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:1", "NO_PROXY": "x.ai"}
    network = network_for("https://api.x.ai/v1", environ)
    assert network.proxy is None and network.describe() == "direct (NO_PROXY)"
    for url in ("http://127.0.0.1:8100/anthropic", "http://localhost:9/", "https://[::1]:9/"):
        assert network_for(url, environ).describe() == "direct (loopback)"


def test_a_providers_own_proxy_wins_even_over_no_proxy():
    environ = {"HTTPS_PROXY": "http://everyone:1", "NO_PROXY": "*"}
    network = network_for(
        "https://api.anthropic.com", environ, prefix="CLAUDE_", proxy="http://u:pw@own:3128"
    )
    assert network.proxy is not None and network.proxy.host == "own"
    assert network.describe() == "through the proxy own:3128 (CLAUDE_PROXY)"


def test_an_unused_socks_proxy_stops_nothing():
    # A developer's shell often has ALL_PROXY=socks5://...: harmless where NO_PROXY covers it.
    environ = {"ALL_PROXY": "socks5://127.0.0.1:1080", "NO_PROXY": "anthropic.com"}
    assert network_for("https://api.anthropic.com", environ).proxy is None
    with pytest.raises(ValueError, match="ALL_PROXY: socks5:// proxies are not supported"):
        network_for("https://api.openai.com/v1", environ)


def test_environment_proxies_are_read_once():
    proxies = EnvironmentProxies.read({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "a.test"})
    assert proxies.for_url("https", "b.test", 443) == Proxy.parse("http://p:1", "HTTPS_PROXY")
    assert proxies.for_url("https", "a.test", 443) is None


# -- certificates -------------------------------------------------------------------------------


def test_ca_precedence(tmp_path):
    ours = Certificates.make(tmp_path / "ours", "localhost")
    environ = {"SSL_CERT_FILE": str(ours.ca_file)}
    assert network_for("https://h.test", environ).ca_variable == "SSL_CERT_FILE"
    own = network_for("https://h.test", environ, prefix="GROK_", ca_bundle=str(ours.ca_file))
    assert own.ca_variable == "GROK_CA_BUNDLE" and own.ca_file == str(ours.ca_file)
    folder = network_for("https://h.test", {}, prefix="GROK_", ca_bundle=str(tmp_path / "ours"))
    assert (folder.ca_file, folder.ca_dir) == (None, str(tmp_path / "ours"))
    assert network_for("https://h.test", {}).ca_variable == ""  # the public CAs


def test_providers_with_the_same_files_share_one_tls_context(tmp_path):
    ours = Certificates.make(tmp_path, "localhost")
    environ = {"SSL_CERT_FILE": str(ours.ca_file)}
    contexts = {id(network_for(f"https://{n}.test", environ).ssl_context()) for n in "abc"}
    assert len(contexts) == 1
    assert id(network_for("https://a.test", {}).ssl_context()) not in contexts


# -- one clear start-up line --------------------------------------------------------------------


def configs(monkeypatch, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {c.name: c for c in provider_configs(make_settings(), "http://127.0.0.1:9")}


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"HTTPS_PROXY": "socks5://u:p@proxy:1080", "ANTHROPIC_API_KEY": "k"},
            "invalid setting HTTPS_PROXY (used for claude): socks5:// proxies are not supported",
        ),
        ({"GEMINI_PROXY": "ftp://proxy"}, "invalid setting GEMINI_PROXY: unsupported proxy"),
        ({"GROK_CA_BUNDLE": "/nonexistent/ca.pem"}, "invalid setting GROK_CA_BUNDLE: cannot load"),
        ({"SSL_CERT_FILE": "/nonexistent/ca.pem"}, "invalid setting SSL_CERT_FILE (used for"),
        ({"CLAUDE_CLIENT_KEY": "/k.pem"}, "invalid setting CLAUDE_CLIENT_KEY: needs CLAUDE_CLIENT"),
        ({"CHATGPT_CLIENT_CERT": "/nonexistent/c.pem"}, "invalid setting CHATGPT_CLIENT_CERT"),
        ({"PERPLEXITY_TRANSPORT": "curl"}, "invalid setting PERPLEXITY_TRANSPORT"),
    ],
)
def test_an_unusable_network_setting_stops_start_up_with_one_line(monkeypatch, env, line):
    with pytest.raises(SettingsError) as raised:
        configs(monkeypatch, **env)
    assert str(raised.value).startswith(line), str(raised.value)
    assert "\n" not in str(raised.value) and "u:p" not in str(raised.value)


def test_a_ca_file_without_certificates_is_named(monkeypatch, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(SettingsError, match="invalid setting CLAUDE_CA_BUNDLE: "):
        configs(monkeypatch, CLAUDE_CA_BUNDLE=str(empty))


def test_the_settings_reach_each_providers_config(monkeypatch, tmp_path):
    ours = Certificates.make(tmp_path, "localhost")
    cert, key = ours.client_files(tmp_path)
    found = configs(
        monkeypatch,
        HTTPS_PROXY=f"http://bob:{SECRET}@proxy.corp:8080",
        HTTP_PROXY=f"http://bob:{SECRET}@proxy.corp:8080",
        NO_PROXY="googleapis.com",
        SSL_CERT_FILE=str(ours.ca_file),
        ANTHROPIC_API_KEY="k1",
        GOOGLE_API_KEY="k2",
        XAI_API_KEY="k3",
        GROK_PROXY=f"http://grok:{SECRET}@other.corp:3128",
        GROK_CLIENT_CERT=str(cert),
        GROK_CLIENT_KEY=str(key),
        GROK_TRANSPORT="httpx",
    )
    assert found["claude"].network.describe() == (
        "through the proxy proxy.corp:8080 (HTTPS_PROXY), CAs from SSL_CERT_FILE"
    )
    assert found["gemini"].network.describe() == "direct (NO_PROXY), CAs from SSL_CERT_FILE"
    assert found["grok"].network.describe() == (
        "through the proxy other.corp:3128 (GROK_PROXY), CAs from SSL_CERT_FILE, "
        "client certificate, httpx transport"
    )
    # Without a key, the simulator on loopback: never through the proxy.
    assert found["chatgpt"].network.describe() == "direct (loopback), CAs from SSL_CERT_FILE"
    assert SECRET not in repr(found["claude"]) and SECRET not in repr(found["grok"])
    assert SECRET not in repr(provider_settings(make_settings()))


def test_the_developers_proxy_and_ca_variables_never_reach_the_tests():
    # conftest.py drops them at import, lowercase too: a test that wants them sets them.
    leaked = [
        name
        for name in os.environ
        if name.upper().endswith("_PROXY") or name.upper() in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    ]
    assert leaked == []
