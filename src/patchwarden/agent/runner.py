"""Running external commands: the real `SubprocessRunner` and a replaying `FakeRunner` (T5).

Commands are always argv lists, never shell text (SPEC §7).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple


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
        """Run `argv` with LC_ALL=C; a timeout is reported as return code 124."""
        full_env = dict(os.environ)
        full_env.update({"LC_ALL": "C", "LANG": "C"})
        if env:
            full_env.update(env)
        try:
            proc = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=full_env,
                cwd=cwd,
                check=False,
            )
        except FileNotFoundError as exc:
            raise CommandNotFound(f"{argv[0]}: command not found") from exc
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else ""
            return Completed(tuple(argv), 124, out, f"timed out after {timeout:.0f}s")
        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


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
