"""Release files agree with the package: the NWB extension catalog's ndx-meta.yaml, and the README's install lines."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO

#: The keys the catalog (nwb-extensions/staged-extensions) requires in ndx-meta.yaml.
CATALOG_KEYS = {"name", "version", "src", "pip", "license", "maintainers"}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_ndx_meta_has_the_catalog_fields_and_agrees_with_the_package() -> None:
    meta = yaml.safe_load((REPO / "ndx-meta.yaml").read_text())
    project = _pyproject()
    namespace = yaml.safe_load((REPO / "spec" / "ndx-causal-emergence.namespace.yaml").read_text())["namespaces"][0]
    assert set(meta) == CATALOG_KEYS
    assert meta["name"] == project["name"] == namespace["name"]
    assert meta["version"] == project["version"] == namespace["version"]
    assert meta["src"] == project["urls"]["Source"]
    assert meta["pip"] == f"https://pypi.org/project/{project['name']}/"
    assert meta["license"] == project["license"]
    assert isinstance(meta["maintainers"], list) and all(isinstance(m, str) and m for m in meta["maintainers"])


def _words(command: str) -> list[str]:
    """A pip command without comments, quotes, ``python -m``, ``-q`` and the package index (CI has a local file)."""
    command = re.sub(r"#.*", "", command).replace('"', "").replace("'", "")
    command = re.sub(r"--index-url\s+\S+", "", command)
    return [w for w in command.split() if w not in {"python", "-m", "-q"}]


def test_ci_runs_the_readme_install_commands() -> None:
    readme = (REPO / "README.md").read_text()
    install = re.search(r"## Install\n\n```bash\n(.*?)```", readme, re.S).group(1)
    wanted = [_words(line) for line in install.splitlines() if line.startswith("pip install")]
    ci = [_words(line) for line in (REPO / ".ci" / "run").read_text().splitlines() if "pip install" in line]
    assert wanted and all(command in ci for command in wanted), (wanted, ci)
    test_command = re.search(r"## Run the tests\n\n```bash\n(.*?)\n```", readme, re.S).group(1)
    assert test_command in (REPO / ".ci" / "run").read_text().splitlines()  # as it stands, on a line of its own
