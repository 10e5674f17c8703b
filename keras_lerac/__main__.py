"""`python -m keras_lerac ...`: the `keras-lerac` command (see `keras_lerac.experiments.cli`)."""

import sys

from keras_lerac.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
