"""Guards for untrusted input and shared machines: confined output paths, write locks, memory budget, redaction."""
