"""NWB side of the package: the extension's neurodata types, reading inputs, and writing results and reading them
back (as the plain data of :mod:`.content`); the only subpackage that handles pynwb objects for results."""
