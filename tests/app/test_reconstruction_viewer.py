"""The reconstruction viewer: a bundle applied in the app gives the CLI's array; ground truth
side by side with the engine's metrics; positions, line profile, references, saving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QWidget,
)

from ptycho_engine import evaluate, load_reconstruction, load_scan

from .conftest import tiny_training_config, wait_for_engine, wait_for_scans

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(sim_scan_file: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, exported bundle) of a 2-epoch training on the simulated scan."""
    from ptycho_engine import export_bundle, train

    folder = tmp_path_factory.mktemp("trained")
    config = tiny_training_config(epochs=2, **{"training.preview_every": 10})
    result = train(load_scan(sim_scan_file), config, run_dir=folder / "run")
    return result.run_dir, export_bundle(result, folder / "star.ptyz")


def button(window, name: str) -> QPushButton:
    return window.findChild(QPushButton, name)


def open_with_bundle(qtbot, make_window, dialogs, scan_file: Path, bundle: Path):
    window = make_window([scan_file])
    wait_for_scans(qtbot, window, 1)
    wait_for_engine(qtbot, window)
    dialogs.files_to_open = [bundle]
    qtbot.mouseClick(button(window, "loadModelButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.reconstruction is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=60_000)
    return window


def test_bundle_in_the_app_gives_the_cli_array_and_metrics(qtbot, make_window, dialogs,
                                                           trained, sim_scan_file: Path,
                                                           tmp_path: Path):
    _, bundle = trained
    window = open_with_bundle(qtbot, make_window, dialogs, sim_scan_file, bundle)
    # the manifest was shown before the model was used
    title, question = dialogs.questions[0]
    assert title == "Load model" and "star.ptyz" in question
    assert "Training: finished after 2 epochs" in question and "Config:" in question
    assert "reconstruct sim_star" in question
    shown = window.session.reconstruction
    assert shown.model.kind == "bundle" and shown.scan_name == "sim_star"
    details = window.findChild(QWidget, "modelDetails").toPlainText()
    assert "Bundle: star.ptyz" in details
    # a 2-epoch fit is never shown as a finished result: the word is over the images
    assert "Convergence: NOT CONVERGED (too short to judge)" in details
    banner = window.findChild(QLabel, "convergenceBanner")
    assert banner.isVisibleTo(window)
    assert "Not converged (too short to judge) — only 2 epochs finished" in banner.text()
    assert banner.text().endswith("Try: train longer.</b>")
    assert "--time-limit" in banner.toolTip()  # the whole advice
    assert "NOT CONVERGED" in window.findChild(QLabel, "reconstructionInfo").text()

    out = tmp_path / "cli.npz"
    subprocess.run([sys.executable, "-m", "ptycho_engine.cli", "reconstruct", "--model",
                    str(bundle), "--scan", str(sim_scan_file), "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True, timeout=120)
    cli = load_reconstruction(out)
    app_object = shown.reconstruction.object
    assert app_object.shape == cli.object.shape
    # the same call; 130 scan-wide steps sum in another thread order in each process
    # (measured: 5e-5 at amplitude 0.76)
    assert np.allclose(app_object, cli.object, atol=2e-4)
    assert shown.reconstruction.offset == cli.offset

    # ground truth below, metrics from the engine (same call as `ptycho-engine evaluate`)
    scan = load_scan(sim_scan_file)
    expected = evaluate(cli.object, cli.offset, scan.ground_truth, mask=cli.weight > 0)
    table = window.findChild(QTableWidget, "metricsTable")
    assert table.item(0, 0).text() == f"{expected.amplitude_ssim:.3f}"
    assert table.item(0, 1).text() == f"{expected.phase_ssim:.3f}"
    assert table.item(2, 1).text() == f"{expected.phase_frc_px:.2f}"
    assert "ground truth of sim_star" in window.findChild(QWidget, "metricsNote").text()
    assert "aligned" in window.findChild(QWidget, "metricsNote").text()
    viewer = window.reconstruction_viewer
    reference = viewer.comparison.reference
    assert reference.isVisibleTo(window)
    np.testing.assert_array_equal(reference.image(), scan.ground_truth)

    # linked zoom: zooming the reconstruction zooms the ground truth the same way
    master = viewer.comparison.recon.amplitude_view.plot.getViewBox()
    master.setRange(QRectF(20.0, 18.0, 16.0, 16.0), padding=0)
    qtbot.waitUntil(lambda: np.allclose(
        reference.amplitude_view.plot.getViewBox().viewRange(), master.viewRange(), atol=1e-6))
    # the images sit in the scan frame: pixel [r, c] of the object at (col + c, row + r)
    recon_item = viewer.comparison.recon.amplitude_view.image_item
    row, col = shown.reconstruction.offset
    assert (recon_item.pos().x(), recon_item.pos().y()) == (col - 0.5, row - 0.5)
    assert dialogs.errors == []


def test_declining_the_manifest_leaves_the_model_unchanged(qtbot, make_window, dialogs,
                                                          trained, sim_scan_file: Path):
    _, bundle = trained
    window = make_window([sim_scan_file])
    wait_for_scans(qtbot, window, 1)
    dialogs.confirm_answer = False
    dialogs.files_to_open = [bundle]
    qtbot.mouseClick(button(window, "loadModelButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialogs.questions) == 1 and not window.jobs.busy,
                    timeout=60_000)
    assert window.session.model is None and window.session.reconstruction is None
    assert not button(window, "reconstructButton").isEnabled()


def test_positions_profile_saving_and_a_loaded_reference(qtbot, make_window, dialogs, trained,
                                                          sim_scan_file: Path, tmp_path: Path):
    _, bundle = trained
    window = open_with_bundle(qtbot, make_window, dialogs, sim_scan_file, bundle)
    viewer = window.reconstruction_viewer
    recon = window.session.reconstruction.reconstruction

    # scan positions overlay, in the scan frame
    toggle = window.findChild(QCheckBox, "positionsToggle")
    toggle.setChecked(True)
    scatter = viewer.comparison.position_items[0]
    assert scatter.isVisible()
    np.testing.assert_allclose(np.column_stack(scatter.getData()), recon.positions)

    # line profile: nearest-pixel amplitude and phase along the line
    window.findChild(QCheckBox, "profileToggle").setChecked(True)
    assert window.findChild(QWidget, "profilePlot").isVisibleTo(window)
    row, col = recon.offset
    start, end = (col + 4.0, row + 10.0), (col + 30.0, row + 22.0)
    viewer.profile.set_line(start, end)
    distance, amplitude, phase = viewer.profile.profile(0)
    count = int(np.ceil(np.hypot(26.0, 12.0))) + 1
    t = np.linspace(0, 1, count)
    rows = np.rint(10.0 + t * 12.0).astype(int)
    cols = np.rint(4.0 + t * 26.0).astype(int)
    covered = recon.weight[rows, cols] > 0  # outside the scanned area: no value (NaN)
    assert covered.sum() > count // 2
    np.testing.assert_allclose(distance, t * np.hypot(26.0, 12.0))
    np.testing.assert_allclose(amplitude, np.where(covered, np.abs(recon.object[rows, cols]),
                                                   np.nan), rtol=1e-6)
    np.testing.assert_allclose(phase, np.where(covered, np.angle(recon.object[rows, cols]),
                                               np.nan), atol=1e-6)
    _, truth_amplitude, _ = viewer.profile.profile(1)  # the ground truth along the same line
    truth = load_scan(sim_scan_file).ground_truth
    truth_rows = np.rint(row + 10.0 + t * 12.0).astype(int)
    truth_cols = np.rint(col + 4.0 + t * 26.0).astype(int)
    np.testing.assert_allclose(truth_amplitude, np.abs(truth[truth_rows, truth_cols]),
                               rtol=1e-6)

    # save as NPZ, product HDF5 and TIFF pair; NPZ and HDF5 read back as the same object
    for name in ("recon.npz", "recon.h5", "recon.tif"):
        dialogs.file_to_save = tmp_path / name
        qtbot.mouseClick(button(window, "saveReconstructionButton"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.jobs.busy, timeout=30_000)
    for name in ("recon.npz", "recon.h5"):
        back = load_reconstruction(tmp_path / name)
        np.testing.assert_allclose(back.object, recon.object, atol=1e-6)
    assert sorted(p.name for p in tmp_path.glob("recon*.tif")) == ["recon_amplitude.tif",
                                                                  "recon_phase.tif"]

    # the view as PNG: a real picture, not an empty grab
    dialogs.file_to_save = tmp_path / "view.png"
    qtbot.mouseClick(button(window, "exportViewButton"), Qt.MouseButton.LeftButton)
    image = QImage(str(tmp_path / "view.png"))
    assert image.width() > 200 and image.height() > 200
    pixels = np.array([image.pixel(x, y) for x in range(0, image.width(), 7)
                       for y in range(0, image.height(), 7)])
    assert len(np.unique(pixels)) > 50

    # a loaded reference (the NPZ just saved): compared with itself, SSIM is 1
    dialogs.files_to_open = [tmp_path / "recon.npz"]
    qtbot.mouseClick(button(window, "loadReferenceButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.reconstruction.reference_label == "recon.npz",
                    timeout=30_000)
    assert window.findChild(QComboBox, "referenceBox").currentText() == "recon.npz"
    metrics = window.session.reconstruction.metrics
    assert metrics["amplitude_ssim"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["phase_ssim"] == pytest.approx(1.0, abs=1e-6)
    assert dialogs.errors == []


def test_a_model_of_another_pattern_size_gives_a_clear_error(qtbot, make_window, dialogs,
                                                             trained, tiny_scan_file: Path):
    _, bundle = trained
    window = make_window([tiny_scan_file])  # 16 x 16 patterns; the model wants 32 x 32
    wait_for_scans(qtbot, window, 1)
    dialogs.files_to_open = [bundle]
    qtbot.mouseClick(button(window, "loadModelButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.model is not None and not window.jobs.busy,
                    timeout=60_000)
    assert window.session.reconstruction is None  # not applied automatically: N differs
    qtbot.mouseClick(button(window, "reconstructButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1, timeout=60_000)
    title, text, _ = dialogs.errors[0]
    assert title == "Reconstruct" and "32x32" in text and "16x16" in text
    assert window.session.reconstruction is None


def test_use_model_of_a_listed_run(qtbot, make_window, dialogs, trained, sim_scan_file: Path,
                                   tmp_path: Path):
    import shutil

    run_dir, _ = trained
    runs = tmp_path / "settings" / "runs"
    runs.mkdir(parents=True)
    shutil.copytree(run_dir, runs / "copied-run")
    window = make_window([sim_scan_file])
    wait_for_scans(qtbot, window, 1)
    table = window.findChild(QTableWidget, "runTable")
    qtbot.waitUntil(lambda: table.rowCount() == 1)
    table.selectRow(0)
    qtbot.mouseClick(button(window, "useRunButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.reconstruction is not None, timeout=60_000)
    assert window.session.model.kind == "run"
    assert window.session.reconstruction.model.run_dir == runs / "copied-run"
    assert window.session.model.convergence.verdict == "too short to judge"
    assert window.findChild(QLabel, "convergenceBanner").isVisibleTo(window)
    assert window.findChild(QPushButton, "exportButton").isEnabled()
    assert dialogs.errors == []


def test_the_banner_follows_the_verdict_of_the_model_on_show(qtbot, make_window,
                                                            sim_scan_file: Path):
    from app.session import ModelEntry, ReconstructionEntry
    from ptycho_engine import Convergence, Reconstruction

    window = make_window([sim_scan_file])
    wait_for_scans(qtbot, window, 1)
    banner = window.findChild(QLabel, "convergenceBanner")
    assert not banner.isVisibleTo(window)  # no model, no reconstruction: nothing to label
    rng = np.random.default_rng(0)
    obj = (rng.random((40, 40)) * np.exp(1j * rng.random((40, 40)))).astype(np.complex64)
    recon = Reconstruction(obj, (0.0, 0.0), np.ones((40, 40), np.float32),
                           rng.random((96, 2)) * 30 + 5)
    plateau = Convergence(False, "not converged", (
        "the loss has not left its initial plateau (fell 1.1% of the way to its floor in "
        "8 epochs)",), ("lower training.learning_rate (e.g. halve it)",), 8)
    done = Convergence(True, "converged", ("the validation loss stopped falling",), (), 12)
    entry = window.session.current_scan()

    def show(convergence):
        model = ModelEntry(kind="run", label="run-1", source=Path("run-1"), N=32,
                           convergence=convergence)
        window.session.set_reconstruction(ReconstructionEntry(recon, entry.key, entry.name,
                                                              model))

    show(plateau)
    assert banner.isVisibleTo(window)
    assert banner.text() == (
        "<b>Not converged — the loss has not left its initial plateau (fell 1.1% of the way "
        "to its floor in 8 epochs). Try: lower training.learning_rate (e.g. halve it).</b>")
    assert "lower training.learning_rate" in banner.toolTip()
    show(done)
    assert not banner.isVisibleTo(window)
    show(None)  # a model nothing records a verdict for (a bare checkpoint): no claim made
    assert not banner.isVisibleTo(window)
    window.session.set_reconstruction(None)
    assert not banner.isVisibleTo(window)


def test_the_info_line_says_when_the_models_prediction_was_not_used(qtbot, make_window,
                                                                   sim_scan_file: Path):
    from app.session import ModelEntry, ReconstructionEntry
    from ptycho_engine import Reconstruction

    window = make_window([sim_scan_file])
    wait_for_scans(qtbot, window, 1)
    entry = window.session.current_scan()
    model = ModelEntry(kind="run", label="run-1", source=Path("run-1"), N=32)
    rng = np.random.default_rng(1)
    obj = (rng.random((40, 40)) * np.exp(1j * rng.random((40, 40)))).astype(np.complex64)
    for start, expected in ((0, False), (None, True)):
        recon = Reconstruction(obj, (0.0, 0.0), np.ones((40, 40), np.float32),
                               rng.random((96, 2)) * 30 + 5,
                               info={"scan_refine_start": start})
        window.session.set_reconstruction(ReconstructionEntry(recon, entry.key, entry.name,
                                                              model))
        label = window.findChild(QLabel, "reconstructionInfo").text()
        assert ("prediction was not used" in label) is expected, label
