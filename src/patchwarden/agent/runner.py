"""Running external commands: the real `SubprocessRunner`, `ChrootRunner` (commands inside a
root), a replaying `FakeRunner` and a `RecordingRunner` for tests (T5).

Commands are always argv lists, never shell text (SPEC §7).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Completed:
    """Outcome of one command."""

    argv: Tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.returncode == 0


class CommandNotFound(OSError):
    """The program to run does not exist on this host."""


class Runner:
    """Runs argv lists; subclasses decide how."""

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        """Run `argv` and return its outcome; raise CommandNotFound if the program is missing."""
        raise NotImplementedError


class SubprocessRunner(Runner):
    """Runs commands for real, with a C locale so output is parseable."""

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        """Run `argv` with LC_ALL=C; a timeout is reported as return code 124.

        The command gets a session (process group) of its own, and a timeout kills the whole
        group: apt-get's download methods and dpkg would otherwise outlive it and keep the
        output pipes (and the dpkg lock) open.
        """
        full_env = dict(os.environ)
        full_env.update({"LC_ALL": "C", "LANG": "C"})
        if env:
            full_env.update(env)
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise CommandNotFound(f"{argv[0]}: command not found") from exc
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            return Completed(tuple(argv), TIMEOUT_RC, out or "", f"timed out after {timeout:.0f}s")
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        return Completed(tuple(argv), proc.returncode, out, err)


TIMEOUT_RC = 124
"""Return code of a command the runner killed at its timeout (as timeout(1) reports it)."""


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process group `proc` leads (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class ChrootRunner(Runner):
    """Runs every command inside `chroot ROOT` (`patchwarden-agent --exec chroot`).

    How a mounted system, a container root or a test root is managed: the package manager
    inside the root acts on the root's own databases. A working directory is a path inside the
    root and is entered with `env -C` (coreutils 8.28 or later inside the root), since
    chroot(1) always starts in the new root's `/`.
    """

    def __init__(self, root: Path, inner: Optional[Runner] = None) -> None:
        self.root = root
        self.inner = inner or SubprocessRunner()

    def wrap(self, argv: Sequence[str], cwd: Optional[str] = None) -> List[str]:
        """The argv that runs `argv` inside the root."""
        prefix = ["chroot", str(self.root)]
        if cwd:
            prefix += ["env", "-C", cwd]
        return prefix + list(argv)

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        """Run `argv` inside the root; `cwd` is a path inside the root."""
        done = self.inner.run(self.wrap(argv, cwd), timeout=timeout, env=env)
        if done.returncode == 127 and "failed to run command" in done.stderr:
            # chroot(1) found no such program inside the root.
            raise CommandNotFound(f"{argv[0]}: command not found in {self.root}")
        # Callers parse what the command said, not how it was wrapped.
        return Completed(tuple(argv), done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Call:
    """One command a `RecordingRunner` was asked to run."""

    argv: Tuple[str, ...]
    env: Dict[str, str]
    cwd: Optional[str]
    timeout: float


@dataclass
class RecordingRunner(Runner):
    """Records every call with its environment; answers with `answer(call)` (default: exit 0,
    no output). For tests of commands that must never run for real (a reboot)."""

    answer: Optional[Callable[[Call], Completed]] = None
    calls: List[Call] = field(default_factory=list)

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        """Record the call; return `answer(call)` or a success without output."""
        call = Call(tuple(argv), dict(env or {}), cwd, timeout)
        self.calls.append(call)
        if self.answer is not None:
            return self.answer(call)
        return Completed(tuple(argv), 0, "")

    @property
    def argvs(self) -> List[Tuple[str, ...]]:
        """The argv of every call, in order."""
        return [c.argv for c in self.calls]


@dataclass
class FakeRunner(Runner):
    """Replays canned outputs keyed by argv; records every call (for tests)."""

    outputs: Dict[Tuple[str, ...], Completed] = field(default_factory=dict)
    calls: List[Tuple[str, ...]] = field(default_factory=list)

    def add(self, argv: Sequence[str], stdout: str, returncode: int = 0, stderr: str = "") -> None:
        """Register the outcome of `argv`."""
        self.outputs[tuple(argv)] = Completed(tuple(argv), returncode, stdout, stderr)

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        """Return the registered outcome; unknown commands count as not found."""
        key = tuple(argv)
        self.calls.append(key)
        if key not in self.outputs:
            raise CommandNotFound(f"{argv[0]}: no canned output for {' '.join(key)}")
        return self.outputs[key]
