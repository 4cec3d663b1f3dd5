"""The serve loop: rounds until pass, then optional rechecks, verdicts published to probes."""

from __future__ import annotations

import threading
from typing import Any

from preflight.app.http_server import ProbeServer, State, start_http
from preflight.core.redact import describe_exception
from preflight.core.result import ExitCode
from preflight.core.verdict import Verdict
from preflight.report import outputs
from preflight.run.session import Session, collect_garbage_from_now_on

STOP_WAIT = 1.0  # seconds a stop waits for the round in flight to end in a verdict


Address = tuple[str, int]


class AddressUnusable(Exception):
    """A listener could not be opened: `option` says which (listen or verdict_address)."""

    def __init__(self, option: str, error: OSError) -> None:
        super().__init__(error.strerror)
        self.option = option
        self.reason = error.strerror or str(error)


class Sidecar:
    def __init__(self, session: Session, log: Any, listen: Address, verdict_address: Address,
                 recheck_interval: float | None) -> None:
        self.session = session
        self.log = log
        self.recheck_interval = recheck_interval
        self.state = State(log)
        self.exit_code = ExitCode.PASS
        session.on_change = self._progress
        session.log_every_round = False
        # The first request may come before the first round starts: it gets a verdict too.
        self.state.publish(session.in_progress(), final=False)
        # Listen before the first check: probes get a 503, not a refused connection. The
        # verdict (every check's details) gets its own listener, loopback by default; one
        # listener serves both when the operator names the same address twice.
        shared = verdict_address == listen
        self.servers = [self._listen("listen", listen, verdict=shared)]
        if not shared:
            try:
                self.servers.append(self._listen("verdict_address", verdict_address,
                                                 verdict=True))
            except AddressUnusable:
                self.servers[0].server_close()
                raise
        log.info("serving probes", listen=f"{listen[0]}:{listen[1]}",
                 verdict=f"{verdict_address[0]}:{verdict_address[1]}",
                 recheck_interval_s=recheck_interval)

    def _listen(self, option: str, address: Address, *, verdict: bool) -> ProbeServer:
        try:
            return start_http(self.state, *address, verdict=verdict)
        except OSError as error:
            raise AddressUnusable(option, error) from None

    def _progress(self) -> None:
        if self.state.snapshot.final:
            return
        self.state.publish(self.session.in_progress(), final=False)

    def _publish(self, verdict: Verdict) -> None:
        self.state.publish(verdict, final=True)
        outputs.write_verdict_file(verdict, self.session.config, self.log)

    def _loop(self) -> None:
        session = self.session
        cancel = session.cancel
        verdict = session.run_round()
        collect_garbage_from_now_on()  # long-running, even when no further round comes
        while not cancel.is_set():
            self._publish(verdict)
            if not verdict.failed and self.recheck_interval is None:
                cancel.wait()
                break
            if not verdict.failed:
                assert self.recheck_interval is not None
                if cancel.wait(self.recheck_interval):
                    break
                verdict = session.run_round(everything=True)
                continue
            if not session.pause():
                if not cancel.is_set():  # the deadline (only with --timeout): give up
                    self.exit_code = verdict.exit_code
                    cancel.set()
                break
            verdict = session.run_round()

    def _guarded_loop(self) -> None:
        try:
            self._loop()
        except Exception as error:  # fail closed: the probes must never pass on a crashed loop
            self.log.error("serve loop crashed", error=describe_exception(error))
            self.log.debug("serve loop traceback", exc_info=True)
            self.exit_code = ExitCode.FAIL
            self.session.cancel.set()

    def serve_until_stopped(self) -> int:
        worker = threading.Thread(target=self._guarded_loop, name="serve-loop", daemon=True)
        self.state.worker = worker
        worker.start()
        self.session.cancel.wait()
        for server in self.servers:
            server.server_close()
        # A round stops within moments of the signal and ends in a verdict; wait for it
        # (bounded: a stop must not hang), else take the round's verdict so far.
        worker.join(STOP_WAIT)
        last = self.session.latest if not worker.is_alive() else None
        final = self.session.settled(last or self.session.in_progress())  # interrupted
        outputs.write_verdict_file(final, self.session.config, self.log)
        outputs.write_termination_log(final, self.session.config, self.log)
        signal = self.session.interrupted()
        code = 128 + signal if signal is not None else int(self.exit_code)
        self.log.info("stopping", reason="signal" if signal is not None else "deadline or error",
                      exit_code=code)
        return code
