"""``python -m experiments ...`` (see :mod:`experiments.cli`)."""

import os
import sys

from experiments.cli import main

if __name__ == "__main__":  # the guard matters: local worker processes are spawned
    code = main()
    if code:
        # A refused command ends without the interpreter's teardown: native thread pools (Arrow's, when
        # a damaged part failed mid-read) could still be busy while their C++ statics are destroyed,
        # which aborted with "terminate called without an active exception" under the one-line error.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
