"""Running untrusted Python programs in isolated child processes.

Threat model: the program was written by a policy that is rewarded for passing, on the
machine that trains it. There are two isolation modes, chosen once per process: `root`
when running as root, else `userns` when this kernel lets an unprivileged user create
user namespaces (checked once by isolating a child for real); with neither, the sandbox
refuses to run (`available()` says why). Each layer below defends one thing:

- a fresh network namespace (bootstrap.py, both modes): no network, not even loopback;
- a private mount namespace whose root is the run's own file tree (tree.py): read-only
  binds of the interpreter's and the system's libraries on an empty tmpfs, with the
  host's root detached, so no host file (dataset, home, /work, /run, the host's /tmp) is
  visible; the only writable place is a size-limited tmpfs on /tmp; nothing written
  survives the run. In `userns` mode the binds are made read-only recursively;
- PID, IPC and UTS namespaces per run (both modes): a fresh /proc shows only the run's
  processes, SysV and POSIX IPC objects vanish with the run, the host name is not seen;
- `root`: an unprivileged uid per concurrent run (claimed with a lock file), no groups
  and no_new_privs: the host's files are read-only to it and private ones unreadable,
  and RLIMIT_NPROC bounds fork bombs (root ignores that limit, so the uid matters).
  `userns`: the runner's own uid (1000 inside the namespace), every capability dropped,
  no nested user namespaces, no_new_privs. WEAKER: the program runs as the runner's
  user, so a kernel flaw that lets it out of its namespaces leaves it with that user's
  rights, and it keeps the user's supplementary groups for the files of its tree (an
  unprivileged user namespace cannot drop them).
  RLIMIT_NPROC still bounds fork bombs: since Linux 5.14 it counts the processes of the
  uid inside the run's own user namespace, i.e. of this run only;
- RLIMIT_AS / CPU / NOFILE / FSIZE: memory bombs, busy loops, descriptor and disk
  exhaustion; a wall-clock deadline kills sleepers and signal-ignorers;
- a cgroup per run (cgroup.py) bounds the memory and the processes of the run as a
  whole, not per process; where none can be made, a `NoCgroupWarning` says so once and
  only the per-process limits above apply;
- an empty environment: the parent's variables (tokens, keys) are not inherited;
- nothing started by the program outlives its run, even if it daemonised or started a
  new session: the run has its own PID namespace, whose init (PID 1) is the program
  itself, in a session of its own; when it ends or the run is stopped the kernel kills
  every process in the namespace; in `root` mode every process of the run's uid is
  killed after the run too. Like any init, the program ignores the signals it sends
  itself without a handler (as under nsjail, or Docker without --init);
- output is read up to a cap and the child is killed past it;
- verdicts never come from the program: stdout is compared by the caller, and in
  `serve` mode the program only answers calls with literal values that the caller
  parses (`ast.literal_eval`) and compares itself, so exit codes, printed markers,
  `sys.exit(0)`, patched builtins or objects whose `__eq__` always says True count for
  nothing.

The work is split by job: limits.py (the limits), cgroup.py (whole-run limits),
isolation.py (choosing the mode), tree.py (the file tree a program sees), uids.py
(sandbox uids in `root` mode), child.py (starting a child and its control channel),
template.py (runs forked from a warm template), workers.py (isolated children kept
warm), script.py (`run`), session.py (`Session`, `serve` mode), suite.py (`Suite`:
one run, a forked child per stdin/stdout test) and pipes.py (their deadline-bounded
pipe I/O).
This module is their public API.
"""

from rewardsmith.sandbox.cgroup import NoCgroupWarning
from rewardsmith.sandbox.isolation import (
    SCRATCH_DIRS,
    WeakerIsolationWarning,
    available,
    mode,
)
from rewardsmith.sandbox.limits import Limits
from rewardsmith.sandbox.script import RunResult, run
from rewardsmith.sandbox.session import AST_LOCK, CallFailed, Session
from rewardsmith.sandbox.suite import Suite
from rewardsmith.sandbox.workers import close_pools

__all__ = [
    "AST_LOCK",
    "SCRATCH_DIRS",
    "CallFailed",
    "Limits",
    "NoCgroupWarning",
    "RunResult",
    "Session",
    "Suite",
    "WeakerIsolationWarning",
    "available",
    "close_pools",
    "mode",
    "run",
]
