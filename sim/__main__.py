import sys

from sim.outputs.cli import main

sys.exit(main())
