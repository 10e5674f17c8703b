"""`python -m benchmarks.sensitivity`: the study's command line (`benchmarks.sensitivity.run`)."""

import sys

from benchmarks.sensitivity.run import main

sys.exit(main())
