"""Browser tests write screenshots only under their own temporary folders unless told."""

from __future__ import annotations

import shutil

from tests.web import world


def test_screenshots_are_copied_nowhere_unless_a_folder_is_named(tmp_path, monkeypatch):
    shot = tmp_path / "page.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n")
    copied: list[tuple[str, str]] = []
    real_copy = shutil.copy2
    monkeypatch.setattr(world.shutil, "copy2",
                        lambda src, dst: copied.append((str(src), str(dst))) or real_copy(src, dst))
    monkeypatch.delenv("NEXUSLIMS_SCREENSHOTS", raising=False)
    world.copy_screenshot(shot)
    assert copied == []
    monkeypatch.setenv("NEXUSLIMS_SCREENSHOTS", str(tmp_path / "look"))
    world.copy_screenshot(shot)
    assert (tmp_path / "look" / "page.png").read_bytes() == shot.read_bytes()
