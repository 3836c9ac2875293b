"""The distribution: one import name (``switchboard``) whose subpackages are the repository's
part folders, the same tree in an editable install, a wheel and an sdist, and imports that flow
one way (the import-linter contracts in ``pyproject.toml``, checked on the wheel's tree)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def package_folder(package: str) -> Path:
    """The repository folder a package of the distribution is built from."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        mapped = mapping.get(".".join(parts[:cut]))
        if mapped is not None:
            return ROOT / mapped / Path(*parts[cut:])
    raise AssertionError(f"{package} is under no package-dir entry")


def source_tree() -> dict[str, Path]:
    """Every module the distribution ships, as its path in an installed tree -> its source."""
    tree = {}
    for package in PYPROJECT["tool"]["setuptools"]["packages"]:
        for source in package_folder(package).glob("*.py"):
            tree[f"{package.replace('.', '/')}/{source.name}"] = source
    return tree


def every_folder_is_a_listed_package() -> None:
    listed = {package_folder(p) for p in PYPROJECT["tool"]["setuptools"]["packages"]}
    for package in PYPROJECT["tool"]["setuptools"]["packages"]:
        for init in package_folder(package).rglob("__init__.py"):
            assert init.parent in listed, f"{init.parent} is a package no one installs"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wheel and an sdist, built by setuptools' PEP 517 backend from a copy of the tracked
    files (so the working tree gets no build/ folder)."""
    copy = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    untracked = subprocess.run(["git", "ls-files", "-z", "--others", "--exclude-standard"],
                               cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, [*tracked, *untracked.split("\0")]):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(source.read_bytes())
    out = tmp_path_factory.mktemp("dist")
    for hook in ("build_wheel", "build_sdist"):   # one process each, as a build frontend does
        result = subprocess.run(
            [sys.executable, "-W", "error::DeprecationWarning", "-c",
             f"import sys; from setuptools import build_meta; build_meta.{hook}(sys.argv[1])",
             str(out)], cwd=copy, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Deprecat" not in result.stderr, result.stderr[-3000:]
        assert "Warning" not in result.stderr, result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_every_part_folder_installs_under_switchboard() -> None:
    every_folder_is_a_listed_package()
    tops = {name.split("/")[0] for name in source_tree()}
    assert tops == {"switchboard"}


def test_the_editable_install_imports_every_module_from_the_repository() -> None:
    for installed, source in source_tree().items():
        module = installed.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        assert Path(spec.origin or "").resolve() == source.resolve(), module


def test_the_wheel_carries_the_same_tree(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = {n for n in wheel.namelist() if n.endswith(".py")}
    assert names == set(source_tree())


def test_the_wheel_carries_the_consoles_templates_and_static_files(
    built: dict[str, Path],
) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
    console = ROOT / "callbacks" / "console"
    files = [*console.glob("templates/console/*.html"), *console.glob("static/*")]
    assert files
    for path in files:
        assert f"switchboard/callbacks/console/{path.relative_to(console)}" in names, path


def test_the_sdist_carries_every_module(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as sdist:
        names = {member.name.partition("/")[2] for member in sdist.getmembers()}
    missing = {str(source.relative_to(ROOT)) for source in source_tree().values()} - names
    assert not missing
    assert {"pyproject.toml", "README.md"} <= names


def test_the_console_script_and_the_pytest_plugin_are_named_for_switchboard() -> None:
    project = PYPROJECT["project"]
    assert project["scripts"] == {"switchboard": "switchboard.cli:main"}
    assert project["entry-points"]["pytest11"] == {
        "switchboard": "switchboard.emulator.pytest_plugin"}
    assert isinstance(project["license"], str)


@pytest.fixture(scope="module")
def wheel_tree(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(built["wheel"]) as wheel:
        wheel.extractall(site)  # noqa: S202 (the wheel was built by this test)
    return site


def lint_imports(site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=site, env=env, capture_output=True, text=True, timeout=300,
    )


def test_imports_flow_one_way(wheel_tree: Path) -> None:
    result = lint_imports(wheel_tree)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "statement"), [
    ("callbacks/_uses_the_cli.py", "import switchboard.cli"),
    ("callbacks/_uses_the_emulator.py", "from switchboard.emulator import Emulator"),
    ("api/_uses_the_server.py", "import switchboard.callbacks.twiml"),
    ("config/_uses_the_client.py", "from switchboard.api import TwilioClient"),
    ("api/_uses_flask.py", "import flask"),
])
def test_an_import_against_the_flow_breaks_a_contract(
    wheel_tree: Path, tmp_path: Path, module: str, statement: str,
) -> None:
    site = tmp_path / "site"
    subprocess.run(["cp", "-r", str(wheel_tree), str(site)], check=True)
    (site / "switchboard" / module).write_text(statement + "\n")
    result = lint_imports(site)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "BROKEN" in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout


def test_the_container_image_copies_every_part_folder() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text("utf-8")
    for folder in set(PYPROJECT["tool"]["setuptools"]["package-dir"].values()):
        assert f"COPY {folder} ./{folder}\n" in dockerfile, folder


HEAVY = ("flask", "werkzeug", "lxml", "requests", "sqlalchemy", "click")


@pytest.mark.parametrize(("statement", "loads"), [
    ("import switchboard", ()),
    ("import switchboard.config", ()),
    ("from switchboard import load_settings", ()),
    ("from switchboard import TwilioClient", ("requests",)),
    ("from switchboard import VoiceResponse", ("lxml",)),
])
def test_the_front_door_imports_only_what_a_name_needs(statement: str, loads: tuple[str]) -> None:
    code = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.split() == list(loads)


def test_every_front_door_name_resolves() -> None:
    import switchboard

    for name in switchboard.__all__:
        assert getattr(switchboard, name) is not None, name
    assert set(switchboard.__all__) <= set(dir(switchboard))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        switchboard.nothing  # noqa: B018
