"""DANDI Archive access: asset references, version/URL resolution and streamed opening.

The submodules import the ``dandi`` client lazily (inside functions), so importing this package
stays light. :mod:`.refs` parses and resolves references to one asset (with an injectable
``DandiAPIClient``); :mod:`.remote` streams HDF5 bytes over HTTP with remfile and a persistent
disk cache.
"""
