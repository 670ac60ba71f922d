"""dockyard's OCI runtime for Linux.

syscalls: the one thin libc layer (and its fake). namespaces, rootfs, mountopts,
capabilities, process: the steps of container init, in runc's order. console: the
--console-socket protocol. state: state.json and status. container: the lifecycle.
cgroups and seccomp are their own modules.
"""
