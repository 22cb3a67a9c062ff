"""Who may ask: keys, sessions, signed tokens, revocations, and whose forwarding to believe.

What this package offers (HTTP handlers stay in ``gateway.api``: ``guard``, ``session``,
``keys``):

* ``Access`` and ``open_access`` (``access``): the key store, the session store, the signer
  and the revocation watch of one process, made at start-up.
* ``ClientKey``, ``KeyStore``, ``create_key`` (``keys``): client keys, stored as hashes.
* ``SessionStore`` and ``Ambiguous`` (``sessions``): the page's sign-ins, which sign-out ends.
* ``Signer`` (``signing``): session cookies and the token of a turn's ``events_url``.
* ``RevocationWatch`` (``revocations``): every process forgets revoked keys and ended sessions
  within a second, and stops the revoked keys' turns.
* ``prepare_keys`` (``first_key``): ``MULTICHAT_KEY``, and the first key a fresh install makes.
* ``TrustedProxies`` (``proxies``): ``TRUSTED_PROXIES``' forwarding headers, nobody else's.
* ``Allowance`` and ``allowance`` (``origins``): the host names and browser origins allowed.
"""

from gateway.auth.access import Access, open_access
from gateway.auth.first_key import FIRST_KEY_FILE, prepare_keys
from gateway.auth.keys import ClientKey, KeyStore, create_key, key_hash
from gateway.auth.origins import LOOPBACK_NAMES, Allowance, allowance, host_name
from gateway.auth.proxies import TrustedProxies
from gateway.auth.revocations import RevocationWatch
from gateway.auth.sessions import Ambiguous, SessionStore
from gateway.auth.signing import Signer

__all__ = [
    "FIRST_KEY_FILE",
    "LOOPBACK_NAMES",
    "Access",
    "Allowance",
    "Ambiguous",
    "ClientKey",
    "KeyStore",
    "RevocationWatch",
    "SessionStore",
    "Signer",
    "TrustedProxies",
    "allowance",
    "create_key",
    "host_name",
    "key_hash",
    "open_access",
    "prepare_keys",
]
