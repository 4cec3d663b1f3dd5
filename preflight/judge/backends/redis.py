"""What the redis probe's answer means for the engines."""

from __future__ import annotations

from preflight.contract.targets.redis import RedisEndpoint
from preflight.core.result import Outcome
from preflight.judge.backends import failed, passed
from preflight.observe.redis import RedisObservation


def _password_source(endpoint: RedisEndpoint) -> str:
    return ("the engines' client, which connects without one" if endpoint.from_env
            else "its config")


def judge(endpoint: RedisEndpoint, seen: RedisObservation) -> Outcome:
    where = endpoint.where
    extras = [part for part, on in ((f"db {endpoint.db}", endpoint.db != 0),
                                    ("TLS", endpoint.tls),
                                    ("AUTH", endpoint.password is not None)) if on]
    suffix = f" ({', '.join(extras)})" if extras else ""
    outcome, reply = seen.outcome, seen.reply
    if outcome == "pong":
        return passed(f"redis answered PING at {where}{suffix}")
    if outcome == "tls_untrusted":
        return failed(f"the TLS certificate of redis at {where} is not trusted",
                      "give Redis a certificate from a CA the pod trusts, with its host name")
    if outcome == "tls_failed":
        return failed(f"the TLS handshake with redis at {where} failed",
                      "turn TLS off in the config (`ssl`) or on in Redis (tls-port)")
    if outcome == "needs_password":
        return failed(f"redis at {where} requires a password, and none comes from "
                      f"{_password_source(endpoint)}",
                      "the engines' client cannot authenticate: point the variables at a "
                      "Redis it may use without a password" if endpoint.from_env else
                      "give the route's config the Redis `password`")
    if outcome == "wrong_password":
        return failed(f"redis at {where} rejected the `password` of its config",
                      "fix `password` (and `username`) in the route's config")
    if outcome == "no_password_on_server":
        return failed(f"redis at {where} has no password set, but its config gives one",
                      "remove `password` from the route's config, or set one in Redis "
                      "(requirepass)")
    if outcome == "no_such_db":
        return failed(f"redis at {where} has no database `db` of its config",
                      "set `db` in the route's config below Redis's `databases` setting")
    if outcome == "denied":
        return failed(f"redis at {where} refused the client (protected mode)",
                      "give Redis a password, or let it accept clients from this pod")
    return failed(f"redis at {where} answered {reply or 'an error'}",
                  "check Redis's logs and the route's config")


def unanswered_fix(endpoint: RedisEndpoint) -> str:
    """What to check when redis gave no answer within the call timeout."""
    fix = "start Redis, or fix the host/port the route or variables name"
    if endpoint.tls:
        fix += ("; a server that does not speak TLS on that port never answers the "
                "handshake: check `ssl`")
    return fix
