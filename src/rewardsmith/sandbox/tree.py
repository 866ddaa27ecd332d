"""The file tree a sandboxed program sees, planned once per process: which host paths
the bootstrap binds read-only into an otherwise empty root (the interpreter's libraries
and standard library, the system's shared libraries, a few device files) and which
root-level symlinks it copies (e.g. `/lib -> usr/lib`). Nothing else of the host is in
it: no home directory, no /work, no dataset, no /run, no host /tmp."""

from __future__ import annotations

import functools
import os
import sys
import sysconfig

# where the dynamic loader and extension modules find the system's shared libraries
SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
FILES = ("/etc/ld.so.cache", "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


@functools.cache
def tree_plan() -> dict[str, list]:
    """`binds`: host paths (real, none inside another) to bind at the same place;
    `links`: (path, target) of the root-level symlinks that lead into them."""
    base = {"base": sys.base_prefix, "platbase": sys.base_prefix}  # not a venv's
    paths = sysconfig.get_paths(vars=base)
    wanted = [
        sysconfig.get_config_var("LIBDIR") or "",  # libpython, and often the stdlib
        paths["stdlib"],
        paths["platstdlib"],  # lib-dynload
        *SYSTEM_LIBRARIES,
    ]
    real = sorted({os.path.realpath(path) for path in wanted if path and os.path.isdir(path)})
    binds = [path for path in real if not any(path.startswith(top + os.sep) for top in real)]
    links = [
        (path, os.readlink(path))
        for path in SYSTEM_LIBRARIES
        if os.path.islink(path) and os.path.realpath(path) in binds
    ]
    return {"binds": binds + [path for path in FILES if os.path.exists(path)], "links": links}
