"""The `restart` action (SPEC R-F4, R-F5): schedule a reboot with a delay and a reason.

`shutdown -r +N "reason"` (N minutes, the delay rounded up; the reason is shutdown's wall
message, one argv element) or `systemctl reboot` for no delay (`shutdown -r now` where there is
no systemctl). Only the running system can be restarted: a mounted root (`--exec chroot`) is
refused. The result says when the reboot is due and, from the kernel facts, whether the boot
loader's default entry is pinned to an older kernel than the newest installed one — then the
reboot starts the old kernel again, and the hint gives both remedies.
"""

from __future__ import annotations

import datetime
import math
from typing import List

from patchwarden.agent.actions.classify import tail
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.prechecks import boot_default_pinned
from patchwarden.agent.runner import CommandNotFound, Completed
from patchwarden.core.inventory import Kernel
from patchwarden.protocol import v1

TIMEOUT = 60.0


def restart_argv(delay_seconds: int, reason: str) -> List[str]:
    """The command that schedules the reboot."""
    if delay_seconds <= 0:
        return ["systemctl", "reboot"]
    argv = ["shutdown", "-r", f"+{math.ceil(delay_seconds / 60)}"]
    return argv + [reason] if reason else argv


def pinned_hint(kernel: Kernel) -> str:
    """Both remedies for a boot default pinned to an older kernel (R-F5)."""
    newest = kernel.newest_installed or "the newest kernel"
    return (
        f"the boot loader starts {kernel.boot_default} by default, not the newest installed"
        f" kernel {newest}: after the restart the old kernel runs again. Either make the new"
        f" kernel the default non-interactively (grub-set-default / grubby --set-default"
        f" /boot/vmlinuz-{newest}), or change GRUB_DEFAULT in /etc/default/grub by hand and"
        " run update-grub (grub2-mkconfig -o /boot/grub2/grub.cfg on RHEL)"
    )


def run_restart(ctx: ActionContext, delay_seconds: int, reason: str) -> v1.RestartDetails:
    """Schedule the reboot; never raises for a failure."""
    target = ctx.target
    if target.exec_mode != "direct" or not target.live:
        return v1.RestartDetails(
            delay_seconds,
            reason,
            error=v1.ActionError(
                "not_supported",
                f"{target.root} is not the running system: the agent restarts only the machine"
                " it runs on",
                "restart the machine or container that uses this root yourself",
            ),
        )
    kernel = ctx.kernel()
    pinned = bool(boot_default_pinned(kernel))
    hint = pinned_hint(kernel) if pinned else ""
    argv = restart_argv(delay_seconds, reason)
    try:
        done = target.host_runner.run(argv, timeout=TIMEOUT)
    except CommandNotFound:
        argv = ["shutdown", "-r", "now"] + ([reason] if reason else [])
        try:
            done = target.host_runner.run(argv, timeout=TIMEOUT)
        except CommandNotFound as exc:
            return v1.RestartDetails(
                delay_seconds, reason, error=v1.ActionError("not_supported", str(exc))
            )
    command = " ".join(argv)
    if not done.ok:
        return v1.RestartDetails(
            delay_seconds,
            reason,
            command,
            error=_failed(done),
            boot_default_pinned=pinned,
            hint=hint,
        )
    due = ctx.clock() + datetime.timedelta(
        seconds=0 if delay_seconds <= 0 else 60 * math.ceil(delay_seconds / 60)
    )
    return v1.RestartDetails(
        delay_seconds,
        reason,
        command,
        due.astimezone(datetime.timezone.utc).isoformat(timespec="seconds"),
        None,
        pinned,
        hint,
    )


def _failed(done: Completed) -> v1.ActionError:
    output = done.stdout + done.stderr
    code = "permission" if "ermission" in output or "privileges" in output else "unknown"
    return v1.ActionError(
        code,
        f"the reboot could not be scheduled (exit status {done.returncode})",
        "run the agent as root; read the output below",
        tail(output),
    )
