"""Training: the only package that imports TensorFlow (import-linter holds the rest to that).

TensorFlow's C++ start-up lines are silenced here, once, before any module of this package can
import it (the one place the log level is set).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
