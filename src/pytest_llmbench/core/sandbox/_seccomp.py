"""A seccomp filter stacked on each backend's own (stdlib only).

Used on the host by the bwrap backend and sent into the Docker container with the
runner (after _supervise.py's source): keep it free of package imports."""

from __future__ import annotations

import errno
import os

# -- a seccomp filter stacked on the backend's own ------------------------------------
# Denies (EPERM) what lets one process read or steer another (ptrace, process_vm_*,
# kcmp), kernel attack surface a program never needs (perf, bpf, userfaultfd, keys,
# io_uring), x32 syscalls and other ABIs (i386 through int 0x80). Everything else is
# left to the backend's own profile (Docker's default profile stays in force).

_DENY = {
    # name: (x86_64, aarch64)
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "kcmp": (312, 272),
    "perf_event_open": (298, 241),
    "bpf": (321, 280),
    "userfaultfd": (323, 282),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "keyctl": (250, 219),
    "setns": (308, 268),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
}
# No new user namespace (a process without capabilities could make one and gain them
# inside it): clone/unshare with CLONE_NEWUSER fail; clone3, whose flags a filter
# cannot read, says ENOSYS so libc falls back to clone.
_NS_CALLS = {"unshare": (272, 97), "clone": (56, 220)}
_CLONE3 = 435
_CLONE_NEWUSER = 0x10000000
_ARCH = {"x86_64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1)}


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The classic-BPF program (struct sock_filter[]), None on an unknown machine."""
    import struct

    arch = _ARCH.get(machine or os.uname().machine)
    if arch is None:
        return None
    audit, col = arch
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    # (code, true-label, false-label, k); labels are resolved to offsets below.
    prog: list[tuple[int, str, str, int] | str] = [
        (ld, "", "", 4),  # arch
        (jeq, "native", "", audit),
        (ret, "", "", 0x00050000 | errno.EPERM),
        "native",
        (ld, "", "", 0),  # syscall number
    ]
    if col == 0:
        prog.append((jge, "deny", "", 0x40000000))  # x32 numbers
    for nr in sorted({v[col] for v in _DENY.values()}):
        prog.append((jeq, "deny", "", nr))
    prog.append((jeq, "enosys", "", _CLONE3))
    for nrs in _NS_CALLS.values():
        prog.append((jeq, "flags", "", nrs[col]))
    prog += [
        (ret, "", "", 0x7FFF0000),  # allow
        "flags",
        (ld, "", "", 16),  # low word of args[0]: the flags of clone and unshare
        (jset, "deny", "", _CLONE_NEWUSER),
        (ret, "", "", 0x7FFF0000),
        "deny",
        (ret, "", "", 0x00050000 | errno.EPERM),
        "enosys",
        (ret, "", "", 0x00050000 | errno.ENOSYS),
    ]
    where: dict[str, int] = {}
    n = 0
    for ins in prog:
        if isinstance(ins, str):
            where[ins] = n
        else:
            n += 1
    out = []
    i = 0
    for ins in prog:
        if isinstance(ins, str):
            continue
        code, t, f, k = ins
        jt = where[t] - i - 1 if t else 0
        jf = where[f] - i - 1 if f else 0
        out.append(struct.pack("HBBI", code, jt, jf, k))
        i += 1
    return b"".join(out)


def install_seccomp(program: bytes) -> None:
    """Load ``program`` into this process (no_new_privs first, as an unprivileged
    process must); inherited by everything it starts. Raises OSError on failure."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    class FProg(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    fprog = FProg(len(program) // 8, program)
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        raise OSError(ctypes.get_errno(), "seccomp filter not loaded")
