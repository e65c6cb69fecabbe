"""The ``causal-emergence`` command line (thin: parsing and formatting; the work is in the library)."""
