"""NWB side of the package: the extension's neurodata types, reading inputs and writing results."""
