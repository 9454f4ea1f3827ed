"""`aekit` under torchrun, with one rank killed on torchrun's first attempt (test_elastic.py).

argv: RANK STEP AEKIT-ARGS...  On the first attempt (TORCHELASTIC_RESTART_COUNT 0) the process
of rank RANK kills itself with SIGKILL (nothing runs after it: no handler, no flush, no
checkpoint) as its STEP-th training step begins; torchrun then stops the other ranks and,
under --max-restarts, starts them all again with the same command. Every attempt logs at INFO
what the trainer logs (where a resumed run continues), so the test can see the restart.
"""

from __future__ import annotations

import logging
import os
import signal
import sys


def main() -> None:
    rank, step, args = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    logging.basicConfig(level=logging.INFO, format=f"rank {os.environ['RANK']}: %(message)s")
    from aekit.cli import main as aekit
    from aekit.training.trainer import Trainer

    attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
    if attempt == 0 and int(os.environ["RANK"]) == rank:
        original, calls = Trainer._step, []

        def dying(self, *args):
            calls.append(1)
            if len(calls) == step:
                print(f"rank {rank}: killed at step {step}", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, *args)

        Trainer._step = dying
    sys.argv = ["aekit", *args]
    aekit()


if __name__ == "__main__":
    main()
