"""RawCache on real folders: hostile source names stay inside the root, distinct keys never share a folder."""

from __future__ import annotations

import pytest

from virtualobserver.adapters.http.cache import RawCache, safe_key


@pytest.mark.parametrize("key", [
    "../../etc/passwd", "/abs/path", "..", ".", "", "a\\b", "nul\0byte", "x" * 5000, "Gaia DR3 12345", "é✓ 星",
])
def test_hostile_keys_stay_inside_the_root(tmp_path, key):
    cache = RawCache(tmp_path / "cache")
    path = cache.path("ztf", key, "lc.csv")
    assert path.parent.is_dir()
    assert path.resolve().is_relative_to((tmp_path / "cache" / "ztf").resolve())
    assert path.relative_to(tmp_path / "cache").parts[0] == "ztf" and len(path.relative_to(tmp_path / "cache").parts) == 4
    assert len(path.parent.name.encode()) <= 100


def test_distinct_keys_get_distinct_folders_also_when_only_case_differs(tmp_path):
    cache = RawCache(tmp_path)
    keys = ["ABC", "abc", "a/b", "a_b", "a b", "a?b"]
    folders = {cache.path("tess", key, "lc.fits").parent.name.lower() for key in keys}
    assert len(folders) == len(keys)
    assert cache.path("tess", "a/b", "x.fits") == cache.path("tess", "a/b", "x.fits")  # stable
    assert safe_key("Gaia DR3 12345").startswith("Gaia_DR3_12345-")  # still readable


@pytest.mark.parametrize("filename", ["", ".", "..", ".hidden", "a/b", "../x", "a\\b", "a\0b", "x" * 300])
def test_filename_must_be_plain(tmp_path, filename):
    with pytest.raises(ValueError, match="plain file name"):
        RawCache(tmp_path).path("ztf", "src", filename)


@pytest.mark.parametrize("survey", ["", "../x", "ZTF", "a/b", ".hidden"])
def test_survey_must_be_a_plain_name(tmp_path, survey):
    with pytest.raises(ValueError, match="survey name"):
        RawCache(tmp_path).path(survey, "src", "lc.csv")


def test_size_bytes_per_survey_and_in_total(tmp_path):
    cache = RawCache(tmp_path)
    assert cache.size_bytes() == 0
    cache.path("ztf", "s1", "lc.csv").write_bytes(b"x" * 100)
    cache.path("ztf", "s2", "lc.csv").write_bytes(b"x" * 20)
    cache.path("tess", "s1", "lc.fits").write_bytes(b"x" * 7)
    assert cache.size_bytes("ztf") == 120
    assert cache.size_bytes("tess") == 7
    assert cache.size_bytes("gaia") == 0
    assert cache.size_bytes() == 127
