"""The built wheel: the package mapping, typing marker, testing kit and entry points."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".benchmarks",
    ".venv",
    "tests",
    "docs",
    "benchmarks",
    "examples",
)


def _pip_wheel(src: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(out), *flags],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """Build the wheel once, from a copy of the checkout (the tree is left untouched)."""
    base = tmp_path_factory.mktemp("wheel")
    src, out = base / "src", base / "out"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    done = _pip_wheel(src, out, "--no-build-isolation")
    if done.returncode != 0:  # setuptools/wheel too old or missing here: isolate the build
        done = _pip_wheel(src, out)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = list(out.glob("jackfield-*.whl"))
    assert len(wheels) == 1, wheels
    archive = zipfile.ZipFile(wheels[0])
    yield archive
    archive.close()


def test_wheel_contains_the_package_layout(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for required in (
        "jackfield/__init__.py",
        "jackfield/plugins/__init__.py",
        "jackfield/plugins/mock.py",
        "jackfield/py.typed",
        "jackfield/testing/__init__.py",
    ):
        assert required in names, required
    assert not any(n.startswith(("core/", "plugins/", "tests/")) for n in names)


def test_wheel_holds_every_module_of_the_checkout(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "core", "plugins"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for path in tracked:
        if not path.endswith(".py"):
            continue
        top, _, rest = path.partition("/")
        installed = f"jackfield/{rest}" if top == "core" else f"jackfield/plugins/{rest}"
        assert installed in names, f"{path} is not in the wheel as {installed}"


def test_wheel_entry_points(wheel: zipfile.ZipFile) -> None:
    (ep_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(wheel.read(ep_name).decode())
    assert parser.has_section("jackfield")
    assert parser.get("jackfield", "mock").strip() == "jackfield.plugins.mock"
    assert parser.get("console_scripts", "jackfield").strip() == "jackfield.cli:main"
    for name, target in parser.items("jackfield"):
        module = target.strip()
        assert module.startswith("jackfield.plugins."), (name, module)
        path = "jackfield/plugins/" + module.rsplit(".", 1)[1] + ".py"
        assert path in wheel.namelist(), f"entry point {name} names missing module {module}"
