"""What the checks that judge the routing registry share."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from preflight.config import Config
from preflight.core.result import Outcome
from preflight.judge import firestore
from preflight.observe.errors import Refused
from preflight.run.check import Check
from preflight.run.context import Context


class RegistryCheck(Check):
    """A check that judges the routing registry as this round read it.

    Without a project nothing can be read (a failure, not a skip); a refused read is
    judged as firestore.access judges it, so its fix names the permission.
    """

    needs: ClassVar[tuple[str, ...]] = ("firestore.access",)

    def unconfigured(self, config: Config) -> Outcome | None:
        return firestore.judge_no_project(config)

    def attempt_budget(self, config: Config) -> float:
        """Pages are many bounded calls; only the deadline bounds an attempt of them all."""
        return config.timeout

    def attempt(self, ctx: Context) -> Outcome:
        try:
            return self.judge_registry(ctx)
        except Refused as refusal:
            return firestore.judge_refusal(refusal, ctx.config, ctx.principal())

    @abstractmethod
    def judge_registry(self, ctx: Context) -> Outcome:
        """Reads what it needs (ctx.routes(), ctx.nearby()) and judges it."""
