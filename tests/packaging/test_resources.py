"""What the desktop bundle ships: icon (SVG and PNG sizes), desktop entry, default config,
the build files that name them, and one version everywhere."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources"
SIZES = (16, 32, 48, 64, 128, 256)


def pyproject_version() -> str:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def test_icon_pngs_are_the_svg_rendered(tmp_path):
    """Each PNG has its size, is mostly opaque inside and transparent in the corners, and
    matches a fresh rendering of the SVG (so the PNGs follow the SVG)."""
    from PySide6.QtGui import QImage

    sys.path.insert(0, str(REPO / "packaging"))
    try:
        from render_icons import render_icons
    finally:
        sys.path.remove(str(REPO / "packaging"))
    fresh = render_icons(RESOURCES / "icons" / "ptycho-studio.svg", tmp_path)
    for size, rendered in zip(SIZES, fresh, strict=True):
        shipped = QImage(str(RESOURCES / "icons" / f"ptycho-studio-{size}.png"))
        assert (shipped.width(), shipped.height()) == (size, size)
        assert shipped.pixelColor(0, 0).alpha() == 0  # rounded corner: transparent
        assert shipped.pixelColor(size // 2, size // 2).alpha() == 255
        again = QImage(str(rendered))
        differing = sum(shipped.pixel(x, y) != again.pixel(x, y)
                        for x in range(size) for y in range(size))
        assert differing <= 0.01 * size * size, f"{size}px PNG is stale: run render_icons.py"


def test_app_icon_has_every_size():
    from app.icons import SIZES as APP_SIZES
    from app.icons import app_icon, icon_files

    assert APP_SIZES == SIZES
    files = icon_files()
    assert files[-1].suffix == ".svg" and len(files) == len(SIZES) + 1
    icon = app_icon()
    assert not icon.isNull()
    assert {size.width() for size in icon.availableSizes()} >= set(SIZES)


def test_desktop_entry():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(RESOURCES / "ptycho-studio.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "Ptycho Studio"
    assert desktop["Exec"].split()[0] == "ptycho-studio" and "%F" in desktop["Exec"]
    assert desktop["Icon"] == "ptycho-studio" and desktop["Terminal"] == "false"
    assert desktop["Categories"].endswith(";") and "Science" in desktop["Categories"]


def test_desktop_entry_installer(tmp_path):
    """install_desktop_entry.sh writes the entry with the executable's absolute path."""
    if sys.platform != "linux":
        pytest.skip("desktop entries are for Linux")
    exe = tmp_path / "bundle dir" / "ptycho-studio"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "share"
    result = subprocess.run(["bash", str(REPO / "packaging" / "install_desktop_entry.sh"),
                             str(exe)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                 "XDG_DATA_HOME": str(data)})
    assert result.returncode == 0, result.stderr
    written = (data / "applications" / "ptycho-studio.desktop").read_text()
    assert f'Exec="{exe}" %F' in written
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps"
                / "ptycho-studio.png").is_file()


def test_default_config_is_the_quick_look_preset():
    from ptycho_engine import load_config
    from ptycho_engine.core.presets import config_preset

    assert load_config(RESOURCES / "quick_look_cpu.toml") == \
        config_preset("quick look (CPU)").apply(), (
            "resources/quick_look_cpu.toml is stale; rewrite it from the preset with "
            "ptycho_engine.core.config.save_config(config_preset('quick look (CPU)').apply(), ...)")


def test_spec_bundles_every_resource_it_names():
    spec = (REPO / "packaging" / "ptycho_studio.spec").read_text()
    for name in re.findall(r'RESOURCES / "([^"]+)"(?: / "([^"]+)")?', spec):
        path = RESOURCES.joinpath(*[part for part in name if part])
        assert path.exists(), path
    for script in ("launch_studio", "launch_engine"):
        assert f'"{script}"' in spec and (REPO / "packaging" / f"{script}.py").is_file()


def test_one_version_for_both_clis():
    """The version is pyproject's, and both --version outputs say it."""
    import ptycho_engine

    version = pyproject_version()
    assert ptycho_engine.__version__ == version, "reinstall: pip install -e ."
    for module, name in (("ptycho_engine.cli", "ptycho-engine"), ("app.main", "ptycho-studio")):
        result = subprocess.run([sys.executable, "-m", module, "--version"],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert result.returncode == 0 and result.stdout.strip() == f"{name} {version}"


def test_bundles_record_the_version(tmp_path):
    import numpy as np

    from ptycho_engine.bundle import export_bundle, load_bundle
    from ptycho_engine.core.config import PtychoConfig, to_dict, with_overrides
    from ptycho_engine.model.pinn import PtychoPINN

    config = with_overrides(PtychoConfig(), {"data.N": 32, "model.n_filters_scale": 1,
                                             "inference.stitch_crop": 16})
    module = PtychoPINN(config=to_dict(config), intensity_scale=10.0, canvas=40,
                        probe=np.ones((32, 32), np.complex64))
    bundle = load_bundle(export_bundle(module, tmp_path / "model.ptyz"))
    assert bundle.manifest["engine_version"] == pyproject_version()
    assert bundle.summary()["engine_version"] == pyproject_version()


def test_icon_found_in_a_pip_installed_environment(tmp_path, monkeypatch):
    """Without the source tree, app_icon() uses <prefix>/share/ptycho-studio/icons (the wheel's
    data files, see pyproject.toml)."""
    import shutil

    import app.icons as icons

    share = tmp_path / "share" / "ptycho-studio" / "icons"
    share.mkdir(parents=True)
    for size in (16, 256):
        shutil.copy(RESOURCES / "icons" / f"ptycho-studio-{size}.png", share)
    monkeypatch.setattr(icons.sys, "prefix", str(tmp_path))
    folders = [tmp_path / "nothing"] + [f for f in icons.icon_folders() if f == share]
    assert folders[1:] == [share]
    monkeypatch.setattr(icons, "icon_folders", lambda: folders)
    assert [p.name for p in icons.icon_files()] == ["ptycho-studio-16.png",
                                                    "ptycho-studio-256.png"]
    assert {s.width() for s in icons.app_icon().availableSizes()} == {16, 256}
