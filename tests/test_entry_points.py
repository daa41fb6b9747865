"""The entry-point reader: the same answers as ``importlib.metadata``, without importing it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from jackfield.registry import _entry_points as reader
from jackfield.registry._entry_points import EntryPoint, entry_points

GROUP = "pb_reader_test"


def _rows(eps: list[EntryPoint]) -> list[tuple[str, str, str | None, str | None]]:
    return [(ep.name, ep.value, ep.dist_name, ep.dist_version) for ep in eps]


def _metadata_rows(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
        for ep in importlib.metadata.entry_points(group=group)
    ]


def _dist(
    where: Path,
    directory: str,
    entry_points: str | bytes | None,
    *,
    metadata: str | None = None,
    metadata_file: str = "METADATA",
) -> Path:
    path = where / directory
    path.mkdir(parents=True)
    if isinstance(entry_points, bytes):
        (path / "entry_points.txt").write_bytes(entry_points)
    elif entry_points is not None:
        (path / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    if metadata is not None:
        (path / metadata_file).write_text(metadata, encoding="utf-8")
    return path


@pytest.fixture
def path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """``sys.path`` as just two empty directories (``tmp_path/a`` then ``tmp_path/b``)."""
    entries = [str(tmp_path / "a"), str(tmp_path / "b")]
    for entry in entries:
        Path(entry).mkdir()
    monkeypatch.setattr(sys, "path", entries)
    return entries


def test_dist_info_entry_points_with_name_and_version_from_metadata(path: list[str]) -> None:
    _dist(
        Path(path[0]),
        "pb_fake-1.2.3.dist-info",
        f"[console_scripts]\nfake = pb_fake.cli:main\n\n[{GROUP}]\none = pb_fake.one\n"
        f"two = pb_fake.two:plugin [extra]\n",
        metadata="Metadata-Version: 2.1\nName: pb-fake\nVersion: 1.2.3\n\nName: not this\n",
    )
    assert _rows(entry_points(GROUP)) == [
        ("one", "pb_fake.one", "pb-fake", "1.2.3"),
        ("two", "pb_fake.two:plugin [extra]", "pb-fake", "1.2.3"),
    ]
    assert all(ep.group == GROUP for ep in entry_points(GROUP))
    assert _rows(entry_points(GROUP)) == _metadata_rows(GROUP)


def test_egg_info_without_a_version_in_its_name_reads_pkg_info(path: list[str]) -> None:
    _dist(
        Path(path[0]),
        "pb_egg.egg-info",
        f"[{GROUP}]\negg = pb_egg\n",
        metadata="Metadata-Version: 1.0\nName: pb-egg\nVersion: 0.4\n",
        metadata_file="PKG-INFO",
    )
    assert _rows(entry_points(GROUP)) == [("egg", "pb_egg", "pb-egg", "0.4")]
    assert _rows(entry_points(GROUP)) == _metadata_rows(GROUP)


def test_without_metadata_the_directory_name_gives_name_and_version(path: list[str]) -> None:
    _dist(Path(path[0]), "pb_bare-2.0.dist-info", f"[{GROUP}]\nbare = pb_bare\n")
    _dist(Path(path[0]), "pb_old-1.0-py3.11.egg-info", f"[{GROUP}]\nold = pb_old\n")
    _dist(Path(path[0]), "pb_none.egg-info", f"[{GROUP}]\nnone = pb_none\n")
    assert sorted(_rows(entry_points(GROUP))) == [
        ("bare", "pb_bare", "pb_bare", "2.0"),
        ("none", "pb_none", "pb_none", None),
        ("old", "pb_old", "pb_old", "1.0"),
    ]


def test_the_first_distribution_of_a_name_on_sys_path_wins(path: list[str]) -> None:
    first, second = Path(path[0]), Path(path[1])
    meta = "Name: Pb.Dup\nVersion: {}\n"
    _dist(first, "Pb.Dup-1.0.dist-info", f"[{GROUP}]\nold = pb_dup.v1\n", metadata=meta.format(1))
    _dist(second, "pb_dup-2.0.dist-info", f"[{GROUP}]\nnew = pb_dup.v2\n", metadata=meta.format(2))
    _dist(
        second,
        "pb_other-1.0.dist-info",
        f"[{GROUP}]\nother = pb_other\n",
        metadata="Name: pb-other\nVersion: 1.0\n",
    )
    # the shadowing one counts even when it has no entry points of the group
    _dist(first, "pb_quiet-1.0.dist-info", "[console_scripts]\nq = pb_quiet:main\n")
    _dist(second, "pb_quiet-9.0.dist-info", f"[{GROUP}]\nhidden = pb_quiet\n")
    rows = _rows(entry_points(GROUP))
    assert sorted(rows) == [
        ("old", "pb_dup.v1", "Pb.Dup", "1"),
        ("other", "pb_other", "pb-other", "1.0"),
    ]
    assert sorted(rows) == sorted(_metadata_rows(GROUP))

    sys.path.reverse()
    assert ("new", "pb_dup.v2", "Pb.Dup", "2") in _rows(entry_points(GROUP))


def test_malformed_files_and_lines_are_skipped(path: list[str]) -> None:
    root = Path(path[0])
    _dist(root, "pb_binary-1.0.dist-info", b"[" + GROUP.encode() + b"]\nx = \xff\xfe\n")
    _dist(root, "pb_none-1.0.dist-info", None)  # no entry_points.txt at all
    (root / "pb_file-1.0.dist-info").write_text("a file, not a directory")
    _dist(root / "pb_nested", "pb_deep-1.0.dist-info", f"[{GROUP}]\ndeep = pb_deep\n")
    _dist(
        root,
        "pb_lines-1.0.dist-info",
        f"before = any.section\n[{GROUP}]\n# a comment\n\nno equals sign here\n"
        f"  spaced   =   pb_lines.mod : attr  \n[other]\nelse = pb_else\n",
    )
    assert _rows(entry_points(GROUP)) == [
        ("spaced", "pb_lines.mod : attr", "pb_lines", "1.0"),
    ]


def test_missing_and_odd_sys_path_entries(path: list[str], tmp_path: Path) -> None:
    _dist(Path(path[1]), "pb_ok-1.0.dist-info", f"[{GROUP}]\nok = pb_ok\n")
    sys.path[:0] = [str(tmp_path / "missing"), ""]
    assert _rows(entry_points(GROUP)) == [("ok", "pb_ok", "pb_ok", "1.0")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("json", json),
        ("json:loads", json.loads),
        ("json : JSONDecoder.decode [speedups]", json.JSONDecoder.decode),
        ("os.path:join", os.path.join),
    ],
)
def test_load(value: str, expected: object) -> None:
    assert EntryPoint("x", value, GROUP).load() is expected


@pytest.mark.parametrize("value", ["", "a b", "json:", ":loads", "json:a-b", "json [x", "a-b"])
def test_load_of_a_malformed_value_raises(value: str) -> None:
    with pytest.raises(ValueError, match="invalid entry point"):
        EntryPoint("x", value, GROUP).load()


def test_a_zip_on_sys_path_falls_back_to_importlib_metadata(
    path: list[str], tmp_path: Path
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pb_zipped-3.0.dist-info/entry_points.txt", f"[{GROUP}]\nz = pb_zipped\n")
        zf.writestr("pb_zipped-3.0.dist-info/METADATA", "Name: pb-zipped\nVersion: 3.0\n")
    _dist(
        Path(path[0]),
        "pb_plain-1.0.dist-info",
        f"[{GROUP}]\nplain = pb_plain\n",
        metadata="Name: pb-plain\nVersion: 1.0\n",
    )
    sys.path.append(str(archive))
    rows = _rows(entry_points(GROUP))
    assert rows == [
        ("plain", "pb_plain", "pb-plain", "1.0"),
        ("z", "pb_zipped", "pb-zipped", "3.0"),
    ]
    assert rows == _metadata_rows(GROUP)


def test_a_finder_with_its_own_distributions_falls_back(
    path: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Finder:
        @staticmethod
        def find_spec(*args: object) -> None:
            return None

        @staticmethod
        def find_distributions(*args: object) -> list[importlib.metadata.Distribution]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    calls: list[str] = []
    real = reader._from_importlib_metadata

    def spy(group: str) -> list[EntryPoint]:
        calls.append(group)
        return real(group)

    monkeypatch.setattr(reader, "_from_importlib_metadata", spy)
    assert entry_points(GROUP) == []
    assert calls == [GROUP]


def test_the_installed_environment_reads_as_importlib_metadata_does() -> None:
    # Every group of every installed distribution: names, values, order, dist names, versions.
    groups = {ep.group for dist in importlib.metadata.distributions() for ep in dist.entry_points}
    assert "jackfield" in groups
    for group in sorted(groups):
        assert _rows(entry_points(group)) == _metadata_rows(group), group
    names = {(ep.name, ep.dist_name) for ep in entry_points("jackfield")}
    assert {("mock", "jackfield"), ("acme", "jackfield-acme")} <= names
