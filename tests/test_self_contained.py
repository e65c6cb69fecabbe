"""The repository alone runs its tests: the real test data are inside it, and nothing names a folder beside it."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import REAL_DATA, REPO

#: The name of the folder beside the checkout that holds the larger data (benchmarks only), in parts: this file is
#: scanned like every other, so it must not spell a path to it either.
BESIDE = "sha" + "red"
#: A path to that folder: ``../<name>``, ``<name>/data``, ``/work/<name>`` or a quoted ``"<name>"`` path part.
OUTSIDE = re.compile(rf"\.\.[/\\]{BESIDE}\b|\b{BESIDE}[/\\]data\b|/work/{BESIDE}\b|/\s*[\"']{BESIDE}[\"']")
TEXT = {".py", ".md", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".sh", ".json", ""}
LIMIT_BYTES = 15_000_000
DOCUMENTED = {"README.md", "make_subsets.py"}


def _listed() -> dict[str, str]:
    """``{relative path: sha256}`` from the table of ``tests/data/README.md``."""
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", (REAL_DATA / "README.md").read_text(), re.M)
    return dict(rows)


def test_every_data_file_is_listed_with_its_checksum() -> None:
    files = {p.relative_to(REAL_DATA).as_posix() for p in REAL_DATA.rglob("*") if p.is_file()} - DOCUMENTED
    listed = _listed()
    assert files == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((REAL_DATA / name).read_bytes()).hexdigest() == digest, name


def test_data_stay_small() -> None:
    assert sum(p.stat().st_size for p in REAL_DATA.rglob("*") if p.is_file()) <= LIMIT_BYTES


def test_nothing_names_a_folder_beside_the_checkout() -> None:
    """Every text file under tests/, src/, tutorials/ and .ci/, this one included."""
    offenders = []
    for top in ("tests", "src", "tutorials", ".ci"):
        for path in (REPO / top).rglob("*"):
            if path.is_file() and path.suffix in TEXT and "__pycache__" not in path.parts:
                for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if OUTSIDE.search(line):
                        offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_pattern_catches_what_it_must() -> None:
    for line in (f'REPO.parent / "{BESIDE}" / "data"', f"see ../{BESIDE}/METHOD.md", f"cp -r /work/{BESIDE}/data ."):
        assert OUTSIDE.search(line), line
    for line in ("shared encoders", "a shared 2-core box", "shared_memory"):
        assert not OUTSIDE.search(line), line
