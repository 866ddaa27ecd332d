"""Runs first inside every sandboxed child, as root, then drops to an unprivileged uid.

This file is executed as the child's `-c` program (standard library only, `-I -S`, and
few imports: every millisecond here is paid once per sample). It
reads its settings from the descriptor named in argv[1] and, before the program arrives
on the same descriptor (a warm worker waits here), isolates itself:
a new network namespace (no interfaces but a down loopback: no network at all); a new
mount namespace with fresh size-limited tmpfs on /tmp, /var/tmp and /dev/shm (the only
writable places, discarded afterwards) and on any non-traversable directory holding the
interpreter (e.g. /root, so its other contents stay hidden); resource limits; no
supplementary groups, the sandbox uid and gid, and no_new_privs. Then it runs the
program in `script` mode (stdin/stdout) or `serve` mode (answers calls on the descriptor
named in argv[2], see runner.py).
"""

import ctypes
import marshal
import os
import resource
import sys

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MNT_DETACH, PR_SET_NO_NEW_PRIVS = 2, 38


def _frame(stream):
    """One control frame: a 4-byte length and a marshal blob (None at end of stream)."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    return marshal.loads(stream.read(int.from_bytes(header, "little")))


def _mount(libc, source, target, fstype, flags, data):
    def enc(text):
        return None if text is None else text.encode()

    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def _hidden_ancestor(path):
    """The highest ancestor of `path` that others cannot traverse (e.g. /root), or None."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for depth in range(1, len(parts) + 1):
        ancestor = os.sep + os.sep.join(parts[:depth])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def isolate(settings):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, None)
    size = f"size={settings['limits']['tmpfs_mb']}m,mode=1777"
    for target in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(target):
            _mount(libc, "tmpfs", target, "tmpfs", 0, size)
    for keep in settings["readable"]:
        hidden = _hidden_ancestor(keep)
        if hidden is None:
            continue
        stage = "/tmp/.rewardsmith-stage"
        os.mkdir(stage)
        _mount(libc, keep, stage, None, MS_BIND | MS_REC, None)
        _mount(libc, "tmpfs", hidden, "tmpfs", 0, "size=1m,mode=755")
        os.makedirs(keep, exist_ok=True)
        _mount(libc, stage, keep, None, MS_BIND | MS_REC, None)
        _mount(libc, None, keep, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
        libc.umount2(stage.encode(), MNT_DETACH)
        os.rmdir(stage)
    work = "/tmp/work"
    os.mkdir(work)
    os.chown(work, settings["uid"], settings["uid"])
    os.chdir(work)
    limits = settings["limits"]
    for name, value in (
        ("RLIMIT_CPU", limits["cpu_seconds"]),
        ("RLIMIT_AS", limits["memory_mb"] << 20),
        ("RLIMIT_NPROC", limits["processes"]),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_FSIZE", limits["file_size_mb"] << 20),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.setgroups([])
    os.setgid(settings["uid"])
    os.setuid(settings["uid"])
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8"})


def _requests(fd):
    """(args, kwargs) pairs sent by the parent, one control frame each."""
    stream = os.fdopen(fd, "rb")
    while (request := _frame(stream)) is not None:
        yield request


def serve(namespace, entry_point, requests, responses):
    """Answer calls of `entry_point`, one line each: `=repr(result)` or `!ExceptionName`."""
    function = namespace.get(entry_point)
    out = os.fdopen(responses, "w", buffering=1)
    if not callable(function):
        out.write("!missing\n")
        return
    out.write("ready\n")
    for args, kwargs in _requests(requests):
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:  # the call failed; say so and stay up
            out.write("!" + type(exc).__name__ + "\n")
            continue
        text = repr(result)
        out.write("!unprintable\n" if "\n" in text else "=" + text + "\n")


def main():
    control = os.fdopen(int(sys.argv[1]), "rb")
    isolate(_frame(control))  # now unprivileged: the program arrives only after this
    job = _frame(control)
    control.close()
    if job is None:
        sys.exit(0)
    namespace = {"__name__": "__main__" if job["mode"] == "script" else "solution"}
    if job["mode"] == "serve":  # answers go to their own pipe; printing must not block
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
    exec(compile(job["program"], "<solution>", "exec"), namespace)
    if job["mode"] == "serve":
        serve(namespace, job["entry_point"], 0, int(sys.argv[2]))


main()
