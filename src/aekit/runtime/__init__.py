"""Where training runs: device, precision, threads (and, next, the process group)."""
