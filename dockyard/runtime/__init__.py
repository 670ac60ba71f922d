"""Running processes in isolation: the OCI runtime (linux/), its command line, the monitor."""
