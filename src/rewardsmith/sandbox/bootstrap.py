"""Runs first inside every sandboxed child: isolates it, then runs the program.

The runner compiles this file once and sends it, marshalled, as the first frame on the
control descriptor (argv[1]) to a `python -I -S -c` stub that runs it with `control`
(that descriptor, opened) defined. Usually that child is the template (`_template`,
see template.py), which forks each run; a run then starts at `main` as below.
Standard library only, and few imports (`_signal`,
not `signal`, which pulls in `enum`; `_ctypes`, not `ctypes`, ~3 ms): every millisecond
here is paid once per sample, which is also why it is not compiled in every child. It
reads its settings from the next frame and, before the program arrives on the same
descriptor (a warm worker waits here), isolates itself in one of two modes (see
runner.py):

In both modes this process creates new mount, network (no interfaces but a down
loopback: no network at all), PID, IPC and UTS namespaces, plus in `userns` mode (not
root) a user namespace with the runner's uid and gid mapped to 1000 inside. It stays
outside the new PID namespace and only waits; its child, the namespace's init (PID 1),
isolates itself and becomes the program. When the program ends or the run is stopped,
the kernel kills everything the program started (a PID namespace ends with its init).
The child builds the run's file tree (the read-only binds planned by tree.py on an empty
tmpfs, a fresh size-limited tmpfs on /tmp, the only writable place, and a fresh /proc
showing only the namespace's processes), makes it the root and detaches the host's;
sets the resource limits and no_new_privs; and in `userns` mode disallows nested user
namespaces and drops every capability. In `root` mode it then takes the sandbox uid and
gid, with no supplementary groups.

Then it runs the program in `script` mode (stdin/stdout), `serve` mode (answers calls
on the descriptor named in argv[2], see session.py) or `suite` mode (compiles it once,
then for each test input sent on stdin forks a child that runs it, and answers with what
that child printed, on argv[2]; see suite.py).
"""

import _ctypes
import _signal
import atexit
import fcntl
import gc
import marshal
import os
import resource
import select
import sys

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
CLONE_NEWIPC, CLONE_NEWUTS = 0x08000000, 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
STAGE = "/tmp"  # where the run's root is assembled, in its own mount namespace
MNT_DETACH, PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 2, 1, 4, 38
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 1
CAPABILITY_VERSION_3 = 0x20080522
INSIDE_ID = 1000  # not 0: the program holds no capability, even after an execve


def _frame(stream):
    """One control frame: a 4-byte length and a marshal blob (None at end of stream)."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    return marshal.loads(stream.read(int.from_bytes(header, "little")))


class _Int(_ctypes._SimpleCData):
    _type_ = "i"


class _Long(_ctypes._SimpleCData):
    _type_ = "l"


class _IntFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _LongFunction(_ctypes.CFuncPtr):
    _flags_ = _IntFunction._flags_
    _restype_ = _Long


class _Libc:
    """The C library's functions the bootstrap calls, through `_ctypes` (as
    `ctypes.CDLL(None, use_errno=True)` would, without importing `ctypes`). `syscall`
    returns a long, every other function an int; arguments are ints, bytes (as
    pointers) or None. Made once, in the template: its runs inherit them."""

    def __init__(self):
        self._handle = _ctypes.dlopen(None, os.RTLD_NOW)
        for name in ("capset", "mount", "prctl", "sethostname", "setns", "umount2", "unshare"):
            setattr(self, name, _IntFunction((name, self)))
        self.syscall = _LongFunction(("syscall", self))


def _failed(what):
    number = _ctypes.get_errno()
    return OSError(number, f"{what}: {os.strerror(number)}")


def _mount(libc, source, target, fstype, flags, data):
    def enc(text):
        return None if text is None else text.encode()

    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise _failed(f"mount {target}")


def _die_with_parent(libc, parent):
    """Have the kernel SIGKILL this process (the waiter) when the runner (`parent`)
    ends, and end now if it has ended already."""
    libc.prctl(PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _die_with(parent):
    """Have the kernel SIGKILL this process when its parent ends, and end now if the
    parent (`parent`: a pidfd of it, readable once it has ended) has ended already."""
    LIBC.prctl(PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
    if select.select([parent], [], [], 0)[0]:
        os._exit(1)


def _read_only_tree(libc, top):
    """Make every mount at or below `top` read-only, recursively; nested mounts cannot
    undo it (needed in `userns` mode, where binds carry submounts that must be kept)."""

    # struct mount_attr: four 64-bit fields (attr_set, attr_clr, propagation, userns_fd)
    attr = MOUNT_ATTR_RDONLY.to_bytes(8, sys.byteorder) + bytes(24)
    if libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, top.encode(), AT_RECURSIVE, attr, len(attr)):
        raise _failed("mount_setattr (Linux 5.12 or later)")


def _bind(libc, source, target, userns):
    """Bind `source` at `target` (made first, as a directory or an empty file), and in
    `root` mode make the bind read-only (in `userns` mode `_read_only_tree` does)."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(libc, source, target, None, MS_BIND | MS_REC, None)
    if not userns:
        _mount(libc, None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def _build_tree(libc, plan, userns):
    """Assemble the run's root at STAGE: a read-only tmpfs holding only the binds and
    links of `plan` (see tree.py), empty /proc and /tmp mount points, and /var/tmp and
    /dev/shm as links to /tmp."""
    _mount(libc, "tmpfs", STAGE, "tmpfs", MS_NOSUID, "size=1m,mode=755")
    for path in plan["binds"]:
        _bind(libc, path, STAGE + path, userns)
    for path, target in plan["links"]:
        os.symlink(target, STAGE + path)
    for path in ("/proc", "/tmp", "/var", "/dev"):
        os.makedirs(STAGE + path, exist_ok=True)
    for path in ("/var/tmp", "/dev/shm"):
        os.symlink("/tmp", STAGE + path)
    if userns:
        _read_only_tree(libc, STAGE)
    else:
        _mount(libc, None, STAGE, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, None)
    if userns:  # the kernel mounts a run's fresh /proc only where one is visible (and
        # a run writes its user namespace's maps there): the host's, covered in every run
        _mount(libc, "/proc", STAGE + "/proc", None, MS_BIND | MS_REC, None)


def _mount_proc(libc, target, notes):
    """A fresh /proc at `target`, showing only the run's processes (mounted while the
    host's /proc is still visible: in `userns` mode the kernel wants it)."""
    try:
        _mount(libc, "proc", target, "proc", MS_NOSUID | MS_NODEV, None)
    except OSError:  # e.g. parts of the host's /proc are masked: show no process
        _mount(libc, "tmpfs", target, "tmpfs", 0, "size=1m,mode=555")
        notes.append("no fresh /proc could be mounted: programs see an empty /proc")


def _enter_tree(libc):
    """Make STAGE the root and detach the host's, so nothing else of it is reachable."""
    os.chdir(STAGE)
    if libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], b".", b".") != 0:
        raise _failed("pivot_root")
    if libc.umount2(b".", MNT_DETACH) != 0:  # the host's root, stacked under the new one
        raise _failed("umount the host's root")
    os.chdir("/")


def _drop_capabilities(libc):
    # the header: version and pid (0: this thread); then two all-zero sets of
    # (effective, permitted, inheritable) 32-bit masks
    header = CAPABILITY_VERSION_3.to_bytes(4, sys.byteorder) + bytes(4)
    if libc.capset(header, bytes(24)) != 0:
        raise _failed("capset")


def _unshare(libc, flags, userns):
    """Enter new namespaces (`flags`), and in `userns` mode a new user namespace that
    maps this process's uid and gid to INSIDE_ID."""
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(flags | CLONE_NEWUSER * userns) != 0:
        raise _failed("unshare")
    maps = (
        ("setgroups", "deny"),
        ("uid_map", f"{INSIDE_ID} {uid} 1\n"),
        ("gid_map", f"{INSIDE_ID} {gid} 1\n"),
    )
    for name, text in maps if userns else ():
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)


def isolate_template(settings):
    """Once, in the template: its mount namespace (and in `userns` mode its user
    namespace, with the runner's uid and gid mapped to 1000 inside) holding the
    read-only file tree, made its root with the host's detached. Its runs share both;
    each gets the rest (`_fork_run`, `isolate`)."""
    global _OWN_PID_NAMESPACE
    _die_with_parent(LIBC, settings["parent"])
    userns = settings["mode"] == "userns"
    _unshare(LIBC, CLONE_NEWNS, userns)
    if "pid" in settings["layers"]:
        _go_on_as_init()
        _OWN_PID_NAMESPACE = os.open("/proc/self/ns/pid", os.O_RDONLY)
    _mount(LIBC, "none", "/", None, MS_REC | MS_PRIVATE, None)
    if "tree" in settings["layers"]:
        _build_tree(LIBC, settings["tree"], userns)
        _enter_tree(LIBC)


def _go_on_as_init():
    """Go on in a child, the init of a new PID namespace that belongs to this user
    namespace, so that it may set its runs' PID namespaces (nested in it) back for
    each (setns needs that). This process waits for it and ends as it did."""
    if LIBC.unshare(CLONE_NEWPID) != 0:
        raise _failed("unshare")
    parent = os.pidfd_open(os.getpid())
    child = os.fork()
    if child == 0:
        _die_with(parent)
        os.close(parent)
        return
    status = os.waitpid(child, 0)[1]
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 1)


def _fork_run(layers):
    """Fork a run (0 in the run, its pid in the template): with the `pid` layer, as
    the init (PID 1) of a new PID namespace, so that when it ends the kernel kills
    everything it started. The template stays in its own: it only sets the namespace
    its next child is born in, then sets it back."""
    own_namespace = "pid" in layers
    if own_namespace and LIBC.unshare(CLONE_NEWPID) != 0:
        raise _failed("unshare")
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0 and own_namespace:
            LIBC.setns(_OWN_PID_NAMESPACE, CLONE_NEWPID)
    return pid


def isolate(settings):
    """Isolate this run, forked from a template that has run `isolate_template`;
    return notes on protections that could not be set up."""
    libc = LIBC
    userns = settings["mode"] == "userns"
    layers = settings["layers"]
    notes = []
    flags = CLONE_NEWNS
    for layer, flag in (
        ("network", CLONE_NEWNET),
        ("ipc", CLONE_NEWIPC),
        ("uts", CLONE_NEWUTS),
    ):
        flags |= flag * (layer in layers)
    if libc.unshare(flags) != 0:
        raise _failed("unshare")
    size = f"size={settings['limits']['tmpfs_mb']}m,mode=1777"
    _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    if "pid" in layers:
        _mount_proc(libc, "/proc", notes)
    if "uts" in layers:  # the run's own UTS namespace: not the host's name
        libc.sethostname(b"sandbox", 7)
    if userns:
        # a user namespace of its own, nested in the template's, so that RLIMIT_NPROC
        # counts this run's processes only (entered after the mounts above: its PID
        # namespace belongs to the template's)
        _unshare(libc, 0, userns)
        try:
            with open("/proc/sys/user/max_user_namespaces", "w") as file:
                file.write("0")
        except OSError:
            notes.append("nested user namespaces could not be disallowed")
    work = "/tmp/work"
    os.mkdir(work)
    if not userns:
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
    if userns:
        _drop_capabilities(libc)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8"})
    # undumpable, so no other process can trace it (in `root` mode the uid change below
    # makes it so too)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if not userns:
        os.setgroups([])
        os.setgid(settings["uid"])
        os.setuid(settings["uid"])
    return notes


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


def _run_program(code, namespace):
    """Run the compiled program as `python` would run a script: None if it ran to its
    end, else the exit status it asked for (SystemExit) or failed with (1, the
    traceback printed as the interpreter prints it)."""
    try:
        exec(code, namespace)
        return None
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return (exc.code or 0) & 0xFF
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1


def _end(namespace, status):
    """End the program's process as the interpreter ends, as far as a program can see:
    its threads joined, atexit functions run, globals cleared in order, cycles
    finalized, stdout and stderr flushed (status 120 if that fails); then `os._exit`,
    skipping the interpreter's teardown of its modules and memory (~4 ms per run),
    which nothing the program wrote depends on."""
    _exit_like_python(namespace)
    gc.collect()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        status = 120
    os._exit(status)


def _run_test(code, data, limits):
    """Fork a child that runs `code` with `data` on stdin; what it printed (capped), its
    exit code (negative: killed by that signal), and whether it ran out of time or
    output. The child leads a process group of its own, killed whole when it ends."""
    import time

    stdin = os.memfd_create("stdin")
    os.write(stdin, data)
    os.lseek(stdin, 0, os.SEEK_SET)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        for fd, target in ((stdin, 0), (out_write, 1), (err_write, 2)):
            os.dup2(fd, target)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        _end(namespace, _run_program(code, namespace) or 0)
    for fd in (stdin, out_write, err_write):
        os.close(fd)
    ended = os.pidfd_open(child)
    output = {out_read: bytearray(), err_read: bytearray()}
    poll = select.poll()
    for fd in (*output, ended):
        poll.register(fd, select.POLLIN)
    open_fds = {*output, ended}
    deadline = time.monotonic() + limits["wall_seconds"]
    status = None
    timed_out = capped = False
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        events = poll.poll(0 if status is not None else remaining * 1000)
        if status is not None and not events:
            break  # its leftovers may hold the pipes open: take what is there
        for fd, _ in events:
            if fd == ended:
                status = os.waitpid(child, 0)[1]
            else:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    output[fd] += chunk
                    continue
            poll.unregister(fd)
            open_fds.discard(fd)
        if len(output[out_read]) + len(output[err_read]) > limits["output_bytes"]:
            capped = True
            break
    # the test's leftovers (and the child itself, when out of time or output); no
    # contextlib here, to keep the bootstrap's imports few
    try:  # noqa: SIM105
        os.killpg(child, _signal.SIGKILL)
    except ProcessLookupError:
        pass
    if status is None:
        status = os.waitpid(child, 0)[1]
    for fd in (*output, ended):
        os.close(fd)
    exit_code = os.waitstatus_to_exitcode(status)
    return output[out_read], output[err_read], exit_code, timed_out, capped


# standard modules that do something visible when first imported: left to each test
PRINTS_ON_IMPORT = {"this", "antigravity", "__hello__", "__phello__", "__main__"}


def _import_ahead(program):
    """Make the program's opening imports (the `import` statements it starts with, after
    any docstring) here in the run, once, so that each test's fork finds them loaded and
    its own `import` statements only look them up; by the time a test's program has
    passed them, its modules are the same either way. A module that fails to import is
    left to the tests, which fail as the program would. Then freeze what is here for the
    garbage collector."""
    import _ast  # (not `ast`, which imports a dozen modules the program would see)

    try:
        statements = compile(program, "<solution>", "exec", _ast.PyCF_ONLY_AST).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        statements = []
    for index, statement in enumerate(statements):
        if isinstance(statement, _ast.Import):
            names = [alias.name for alias in statement.names]
        elif isinstance(statement, _ast.ImportFrom) and not statement.level and statement.module:
            names = [statement.module]
        elif index == 0 and isinstance(getattr(statement, "value", None), _ast.Constant):
            continue  # a docstring
        else:
            break
        for name in names:
            if name.split(".")[0] in PRINTS_ON_IMPORT:
                continue
            try:  # noqa: SIM105 (no contextlib here: see the module's docstring)
                __import__(name)
            except BaseException:  # the tests will meet it again
                pass
    gc.freeze()


def suite(code, requests, responses, limits):
    """Run the program once per test input sent on `requests` (one control frame each),
    each in a forked child, answering each with one frame on `responses`."""
    answers = os.fdopen(responses, "wb")
    for data in _requests(requests):
        stdout, stderr, exit_code, timed_out, capped = _run_test(code, data, limits)
        cap = limits["output_bytes"]
        answer = {
            "exit_code": exit_code,
            "stdout": bytes(stdout[:cap]),
            "stderr": bytes(stderr[:cap]),
            "timed_out": timed_out,
            "capped": capped,
        }
        blob = marshal.dumps(answer)
        answers.write(len(blob).to_bytes(4, "little") + blob)
        answers.flush()


RUN_FDS = 5  # a forked run's control, responses, stdin, stdout and stderr


def _template(settings, control):
    """Fork a run for each request on the socket named in argv[2] (its pipes come with
    the request), report its pid here with a pidfd of it (the runner reads its pid
    there from that), and, once it has ended, its exit code. This process
    never runs a program nor holds a run's data: each run starts from the same state."""
    import _socket

    global _TEMPLATE
    _TEMPLATE = os.pidfd_open(os.getpid())  # readable once the template has ended
    control.close()
    # the compiler's first use in a process sets up its state (about 1 ms of page
    # faults); done here once, each run's compile of its program starts warm
    compile("def warm(up):\n    return [up for _ in up if up]\n", "<warm-up>", "exec")
    gc.freeze()  # a run's collections never walk what it inherited
    requests = _socket.socket(fileno=int(sys.argv[2]))
    waiting = select.poll()
    waiting.register(requests.fileno(), select.POLLIN)
    runs = {}  # pidfd -> pid
    while True:
        for fd, _ in waiting.poll():
            if fd in runs:
                pid = runs.pop(fd)
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                waiting.unregister(fd)
                os.close(fd)
                requests.sendall(_report(b"X", pid, code))
                continue
            data, ancillary, _, _ = requests.recvmsg(1, _socket.CMSG_SPACE(RUN_FDS * 4))
            if not data:
                os._exit(0)
            fds = [
                int.from_bytes(payload[i : i + 4], sys.byteorder)
                for _, _, payload in ancillary
                for i in range(0, len(payload) - 3, 4)
            ]
            if len(fds) != RUN_FDS:
                for received in fds:
                    os.close(received)
                requests.sendall(_report(b"E", 0, len(fds)))
                continue
            try:
                pid = _fork_run(settings["layers"])
            except OSError as error:
                for received in fds:
                    os.close(received)
                requests.sendall(_report(b"E", 0, error.errno or 0))
                continue
            if pid == 0:
                requests.detach()  # (closed below with every other descriptor)
                _start_run(fds)
                return
            for received in fds:
                os.close(received)
            pidfd = os.pidfd_open(pid)
            runs[pidfd] = pid
            waiting.register(pidfd, select.POLLIN)
            passed = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, pidfd.to_bytes(4, sys.byteorder))]
            requests.sendmsg([_report(b"P", pid, 0)], passed)


def _report(kind, pid, number):
    return kind + pid.to_bytes(4, "little") + number.to_bytes(4, "little", signed=True)


def _start_run(fds):
    """In a run forked from the template: its five pipes on descriptors 0-4 and nothing
    else of the template's; then the same start as a run of its own (`main`)."""
    _die_with(_TEMPLATE)
    os.setsid()  # nor can the program signal the template through its process group
    # first above the five targets, so that moving one never overwrites another
    parked = [fcntl.fcntl(fd, fcntl.F_DUPFD, RUN_FDS) for fd in fds]
    for fd in fds:
        os.close(fd)
    for index, fd in enumerate(parked):
        os.dup2(fd, (3, 4, 0, 1, 2)[index])
    os.closerange(RUN_FDS, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    _signal.pthread_sigmask(_signal.SIG_SETMASK, set())
    sys.argv[1:] = ["3", "4"]
    main(os.fdopen(3, "rb"))
    sys.exit(0)


def _probe(settings):
    """A template's set-up and one run's, as a template would fork it; say 'isolated'
    and the notes if both worked."""
    isolate_template(settings)
    pid = _fork_run(settings["layers"])
    if pid == 0:
        notes = isolate(settings)
        print("\n".join(["isolated", *notes]), flush=True)
        os._exit(0)
    os._exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) & 0xFF)


def main(control):
    settings = _frame(control)
    if settings.get("template"):
        isolate_template(settings)
        _template(settings, control)
        return
    if settings.get("probe"):  # the runner checks that this mode works here
        _probe(settings)
    isolate(settings)  # now unprivileged: the program arrives after this
    job = _frame(control)
    control.close()
    if job is None:
        sys.exit(0)
    namespace = {
        "__name__": "__main__" if job["mode"] == "script" else "solution",
        "__builtins__": __builtins__,
    }
    if job["mode"] != "script":  # answers go to their own pipe; printing must not block
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
    try:
        code = compile(job["program"], "<solution>", "exec")
    except BaseException as exc:  # it fails as python would: exit code 1
        why = str(exc)[:1000]
        code = compile(f"raise SyntaxError({why!r})", "<solution>", "exec")
    if job["mode"] == "suite":  # compiled once here, run once per test by a fork
        _import_ahead(job["program"])
        suite(code, 0, int(sys.argv[2]), settings["limits"])
        os._exit(0)
    status = _run_program(code, namespace)
    if status is None and job["mode"] == "serve":
        serve(namespace, job["entry_point"], 0, int(sys.argv[2]))
    _end(namespace, status or 0)


def _exit_like_python(namespace):
    """What the interpreter does at exit before it tears down, in its order: wait for
    the program's non-daemon threads, run its atexit functions, clear its globals."""
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    _clear_like_a_module(namespace)


def _clear_like_a_module(namespace):
    """Set the program's globals to None the way the interpreter clears `__main__` at
    exit (names with one leading underscore first), so that what they hold is finalized
    in that order (an unclosed file is flushed before it is closed) rather than left, in
    a reference cycle with the program's functions, to the last garbage collection,
    which finalizes in no particular order. (The program runs in a dict of its own, not
    in `__main__`, whose clearing it would otherwise get.)"""
    for private_first in (True, False):
        for name in list(namespace):
            single = name.startswith("_") and not name.startswith("__")
            if name != "__builtins__" and (single or not private_first):
                namespace[name] = None


LIBC = _Libc()
_OWN_PID_NAMESPACE = -1  # the template's PID namespace (isolate_template)
_TEMPLATE = -1  # a pidfd of the template, in the template and its runs (_template)
main(control)  # noqa: F821 (defined by the stub that runs this, see child.py)
