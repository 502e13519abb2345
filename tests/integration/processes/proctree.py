"""A generated proc filesystem (proc(5) layout) for tests and the benchmark.

Only what the processes and components collectors read: `stat` (btime), `net/tcp*`, and per
process `stat`, `status`, `cmdline`, `cgroup`, `maps`, and the `exe`, `cwd`, `root`,
`ns/net` and `fd/N` symlinks (their text is what the kernel would show; they need not
resolve). Paths the processes hold are then read under the scanned root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

BTIME = 1_700_000_000
NETNS = "net:[4026531840]"


@dataclass
class FakeProcess:
    pid: int
    comm: str
    exe: str
    argv: list[str]
    cwd: str = "/"
    uid: int = 0
    ppid: int = 1
    start_ticks: int = 12_345
    fds: dict[int, str] = field(default_factory=dict)
    """fd -> link text (`/path`, `/path (deleted)`, `socket:[INODE]`)."""
    maps: list[str] = field(default_factory=list)
    """Paths mapped (one r-xp line each; ` (deleted)` allowed)."""
    cgroup: str = "0::/system.slice/app.service\n"
    state: str = "S"
    flags: int = 0x400100


def stat_line(p: FakeProcess) -> str:
    rest = [p.state, p.ppid, p.pid, p.pid, 0, -1, p.flags, 0, 0, 0, 0, 1, 1, 0, 0, 20, 0, 1, 0]
    rest += [p.start_ticks, 1000000, 100, 0]
    return f"{p.pid} ({p.comm}) " + " ".join(str(v) for v in rest) + "\n"


def tcp_line(slot: int, address_hex: str, port: int, state: str, inode: int) -> str:
    return (
        f"{slot:4d}: {address_hex}:{port:04X} 00000000:0000 {state} 00000000:00000000"
        f" 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
    )


def write_tree(
    proc: Path,
    processes: list[FakeProcess],
    tcp: list[str] = (),  # type: ignore[assignment]
    tcp6: list[str] = (),  # type: ignore[assignment]
    root: Path | None = None,
) -> Path:
    """Write `processes` (and socket tables) as a proc tree at `proc`; `root` is the scanned
    root the processes' files are under."""
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "stat").write_text(f"cpu  1 2 3 4\nbtime {BTIME}\n")
    (proc / "net").mkdir(exist_ok=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    (proc / "net" / "tcp").write_text(header + "".join(tcp))
    (proc / "net" / "tcp6").write_text(header + "".join(tcp6))
    for p in processes:
        write_process(proc, p, root)
    return proc


def write_process(proc: Path, p: FakeProcess, root: Path | None = None) -> None:
    d = proc / str(p.pid)
    (d / "fd").mkdir(parents=True, exist_ok=True)
    (d / "ns").mkdir(exist_ok=True)
    (d / "stat").write_text(stat_line(p))
    (d / "status").write_text(f"Name:\t{p.comm}\nUid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}\n")
    (d / "cmdline").write_bytes(b"".join(os.fsencode(a) + b"\0" for a in p.argv))
    (d / "cgroup").write_text(p.cgroup)
    lines = []
    for i, path in enumerate(p.maps):
        # The inode of the file under the scanned root, when there is one (else a made-up one:
        # the restart check then sees a replaced library).
        on_disk = root / path.removesuffix(" (deleted)").lstrip("/") if root else None
        inode = on_disk.stat().st_ino if on_disk and on_disk.exists() else 1000 + i
        lines.append(f"7f{i:010x}000-7f{i:010x}fff r-xp 00000000 00:00 {inode}    {path}\n")
    (d / "maps").write_text("".join(lines))
    os.symlink(p.exe, d / "exe")
    os.symlink(p.cwd, d / "cwd")
    os.symlink("/", d / "root")
    os.symlink(NETNS, d / "ns" / "net")
    for fd, target in p.fds.items():
        os.symlink(target, d / "fd" / str(fd))
