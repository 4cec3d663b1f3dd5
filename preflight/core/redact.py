"""Keeps secrets out of every output.

Preflight never puts route `config` into any output by construction. This module is the
second line: error texts from client libraries are shortened and stripped of URL user
info, and every rendered output is scrubbed of secret values known from the environment
and the credentials file before it leaves the process.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_KEY"
                          r"|CONNECTION_STRING|(?:^|_)KEY$", re.IGNORECASE)
# Secret parts of an Azure connection string, e.g. AZURE_STORAGE_CONNECTION_STRING.
_CONNECTION_STRING_SECRET = re.compile(r"(?:AccountKey|SharedAccessSignature|SharedAccessKey)"
                                       r"=(?P<secret>[^;]+)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_SECRET_JSON_FIELDS = ("private_key", "private_key_id", "client_secret", "refresh_token",
                       "access_token", "client_id")
_MIN_SECRET_LENGTH = 6
_MAX_TOKEN_FILE = 65_536


def strip_url_userinfo(text: str) -> str:
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)


def _credential_file_secrets(path: str) -> Iterable[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return ()
    if not isinstance(document, dict):
        return ()
    return [str(document[key]) for key in _SECRET_JSON_FIELDS if document.get(key)]


def _secret_file_secrets(path: str) -> Iterable[str]:
    """What a secret-named *_FILE variable points at is secret, not its path: a token file's
    content (AWS_WEB_IDENTITY_TOKEN_FILE), or the secret-named values of an INI file
    (AWS_SHARED_CREDENTIALS_FILE: aws_secret_access_key, aws_session_token)."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read(_MAX_TOKEN_FILE)
    except (OSError, ValueError):
        return ()
    found = [content.strip()]
    for line in content.splitlines():
        name, equals, value = line.partition("=")
        if equals and _SECRET_NAME.search(name):
            found.append(value.strip())
    return found


def known_secrets(environ: Mapping[str, str]) -> frozenset[str]:
    """Values that must never be printed, wherever they would come from."""
    found: set[str] = set()
    for name, value in environ.items():
        if _SECRET_NAME.search(name) and name.endswith("_FILE"):
            found.update(_secret_file_secrets(value))
        elif _SECRET_NAME.search(name) and name != "GOOGLE_APPLICATION_CREDENTIALS":
            found.add(value)
        found.update(match.group("secret") for match in
                     _CONNECTION_STRING_SECRET.finditer(value))
        for match in _URL_USERINFO.finditer(value):
            _user, colon, password = match.group("userinfo").partition(":")
            if colon:  # the password is the secret; a user name is not (and is often a word)
                found.add(password)
    credentials = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if credentials:
        for secret in _credential_file_secrets(credentials):
            found.add(secret)
            found.update(line for line in secret.splitlines() if "-----" not in line)
    return frozenset(s for s in found if len(s.strip()) >= _MIN_SECRET_LENGTH)


class Scrubber:
    """Replaces every known secret in a text; the last step before anything is written."""

    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted(set(secrets), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_environment(cls) -> Scrubber:
        return cls(known_secrets(os.environ))

    def __call__(self, text: str) -> str:
        text = strip_url_userinfo(text)
        return self._pattern.sub(REDACTED, text) if self._pattern else text

    def tree(self, value: Any) -> Any:
        """Scrubs the strings inside a JSON-like value; keys and structure stay intact."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.tree(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.tree(item) for item in value]
        return value


def describe_exception(error: BaseException, limit: int = 240) -> str:
    """A short, single-line description of a client library's exception."""
    text = " ".join(str(error).split()) or type(error).__name__
    name = type(error).__name__
    plain = getattr(error, "described_plainly", False)  # preflight's own, already worded
    if not text.startswith(name) and name not in ("Exception", "RuntimeError") and not plain:
        text = f"{name}: {text}"
    text = strip_url_userinfo(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
