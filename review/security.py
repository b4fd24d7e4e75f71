"""Passwords, login throttling and CSRF tokens: the parts of the workbench an attacker pokes at.

* Passwords: argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile), rehashed on login when
  the parameters change.
* Throttling: failed logins are counted per username and per client address in a sliding window; past
  the limit, logins from there are refused (HTTP 429) until the window has passed, even with the right
  password, so guessing costs the attacker the window each few tries. Kept in memory: one workbench
  process serves an archive office; a restart forgets the counts, which only favours the user.
* CSRF: one random token per session, sent back in every form (``csrf_token``) or in the
  ``X-CSRF-Token`` header, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class LoginThrottle:
    """Sliding-window failure counts per key (``user:NAME``, ``ip:ADDRESS``)."""

    def __init__(self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> int:
        """Seconds until a login may be tried again for these keys (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [
                q[0] + self.window - now for k in keys
                if len(q := self._recent(k, now)) >= self.max_failures
            ]
        return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, username_key: str) -> None:
        with self._lock:
            self._failures.pop(username_key, None)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
