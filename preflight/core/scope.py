"""Where the engines look a route up: a tenant, an env and, at request time, a project."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Scope:
    tenant: str
    env: str
    project: str | None = None

    @property
    def label(self) -> str:
        parts = (self.tenant, self.env) if self.project is None else (
            self.tenant, self.env, self.project)
        return "/".join(parts)
