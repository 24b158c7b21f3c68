"""The reconstruction viewer: stitch a scan with the current model and look at it closely.

Reconstructing and comparing run in workers (latest request wins). The view
shows amplitude and phase (cyclic map) with levels and a cursor read-out, the
scan positions on demand, a line profile, and, when the scan has a ground
truth or a reference reconstruction is loaded, the reference below with linked
zoom and the engine's metrics (alignment applied). Load Model… shows a
bundle's manifest before it is used.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ptycho_engine import PtychoError

from ..context import AppContext
from ..dialogs import BUNDLE_FILTER, PNG_FILTER
from ..model_text import describe_bundle
from ..session import ModelEntry, ReconstructionEntry, ScanEntry
from ..widgets.comparison_view import ComparisonView
from ..widgets.convergence_banner import ConvergenceBanner
from ..widgets.line_profile import LineProfile, ProfileSource
from ..widgets.metrics_table import MetricsTable
from ..workers import Job, LatestOnly
from ..workers.model_tasks import (
    ReconstructionResult,
    Reference,
    compare_task,
    load_bundle_task,
    load_reference_task,
    reconstruct_task,
    save_reconstruction_task,
)

if TYPE_CHECKING:
    from ptycho_engine import Bundle

REFERENCE_FILTER = "Reconstructions (*.npz *.h5 *.hdf5);;All files (*)"
RESULT_FILTER = "Reconstruction NPZ (*.npz);;Product HDF5 (*.h5);;TIFF pair (*.tif);;All files (*)"
NO_REFERENCE = "none"
GROUND_TRUTH = "scan's ground truth"


class ReconstructionViewer(QWidget):
    """Toolbar, ``reconstructionView`` (with ``profilePlot``), model details and metrics."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("reconstructionViewer")
        self.context = context
        self.references: dict[str, Reference] = {}
        self._build()
        self._requests = LatestOnly(context.jobs, "Reconstruct", self)
        self._comparisons = LatestOnly(context.jobs, "Compare", self)
        session = context.session
        session.modelChanged.connect(self._on_model)
        session.reconstructionChanged.connect(self._show)
        session.currentScanChanged.connect(self._on_scan)
        self._on_scan(session.current_scan())
        self._on_model(session.model)

    # ------------------------------------------------------------------ build
    def _button(self, text: str, name: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        return button

    def _build(self) -> None:
        self.info_label = QLabel("No model yet.")
        self.info_label.setObjectName("reconstructionInfo")
        self.info_label.setWordWrap(True)
        top, second = self._build_toolbars()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.info_label)
        layout.addWidget(self._build_views(), stretch=1)

        self.reconstruct_button.clicked.connect(self.reconstruct_current)
        self.load_model_button.clicked.connect(self.choose_and_load_model)
        self.load_reference_button.clicked.connect(self.choose_and_load_reference)
        self.reference_box.activated.connect(self._on_reference_chosen)
        self.positions_toggle.toggled.connect(self.comparison.set_positions_visible)
        self.profile_toggle.toggled.connect(self._on_profile_toggled)
        self.save_button.clicked.connect(self.choose_and_save)
        self.png_button.clicked.connect(self.choose_and_save_png)
        self._update_buttons()

    def _build_toolbars(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """Model and reference above; view options and saving below."""
        self.reconstruct_button = self._button(
            "Reconstruct", "reconstructButton",
            "Stitch the selected scan with the current model (in the background)")
        self.load_model_button = self._button(
            "Load Model…", "loadModelButton",
            "Open a model bundle (.ptyz); its manifest is shown before it is used")
        self.reference_box = QComboBox()
        self.reference_box.setObjectName("referenceBox")
        self.reference_box.setToolTip("What the reconstruction is compared with")
        self.load_reference_button = self._button(
            "Load reference…", "loadReferenceButton",
            "Compare with a reconstruction file (NPZ or product HDF5)")
        self.positions_toggle = QCheckBox("Positions")
        self.positions_toggle.setObjectName("positionsToggle")
        self.positions_toggle.setToolTip("Overlay the scan positions")
        self.profile_toggle = QCheckBox("Line profile")
        self.profile_toggle.setObjectName("profileToggle")
        self.profile_toggle.setToolTip("Drag the red line on the amplitude image; amplitude "
                                       "and phase along it are plotted below")
        self.save_button = self._button("Save…", "saveReconstructionButton",
                                         "Save the reconstruction as NPZ, product HDF5 (.h5) "
                                         "or a TIFF pair (.tif)")
        self.png_button = self._button("PNG…", "exportViewButton",
                                       "Save the view (images and profile) as a PNG image")
        top = QHBoxLayout()
        for widget in (self.reconstruct_button, self.load_model_button):
            top.addWidget(widget)
        top.addSpacing(12)
        top.addWidget(QLabel("Compare with:"))
        top.addWidget(self.reference_box, stretch=1)
        top.addWidget(self.load_reference_button)
        second = QHBoxLayout()
        for widget in (self.positions_toggle, self.profile_toggle):
            second.addWidget(widget)
        second.addStretch(1)
        second.addWidget(self.save_button)
        second.addWidget(self.png_button)
        return top, second

    def _build_views(self) -> QSplitter:
        """The images (with the line profile, under the convergence banner) beside the
        metrics and the model's details."""
        self.comparison = ComparisonView()
        self.profile = LineProfile(self.comparison.recon.amplitude_view.plot)
        self.profile.setVisible(False)
        self.images = QSplitter(Qt.Orientation.Vertical)
        self.images.addWidget(self.comparison)
        self.images.addWidget(self.profile)
        self.images.setStretchFactor(0, 3)
        self.images.setStretchFactor(1, 1)
        self.convergence_banner = ConvergenceBanner("convergenceBanner")
        self.images_panel = QWidget()  # what "PNG…" saves: the banner goes with the images
        images_layout = QVBoxLayout(self.images_panel)
        images_layout.setContentsMargins(0, 0, 0, 0)
        images_layout.setSpacing(2)
        images_layout.addWidget(self.convergence_banner)
        images_layout.addWidget(self.images, stretch=1)

        self.model_details = QPlainTextEdit()
        self.model_details.setObjectName("modelDetails")
        self.model_details.setReadOnly(True)
        self.model_details.setPlaceholderText("The current model's config, training summary "
                                              "and provenance appear here.")
        self.metrics = MetricsTable()
        side = QWidget()
        side.setMinimumWidth(220)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.metrics)
        side_layout.addWidget(QLabel("Model"))
        side_layout.addWidget(self.model_details, stretch=1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.images_panel)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        return splitter

    # ------------------------------------------------------------ references
    def _fill_references(self, entry: ScanEntry | None) -> None:
        current = self.reference_box.currentText()
        names = [NO_REFERENCE]
        if entry is not None and entry.scan.ground_truth is not None:
            names.append(GROUND_TRUTH)
        names += list(self.references)
        self.reference_box.blockSignals(True)
        self.reference_box.clear()
        self.reference_box.addItems(names)
        if current in names and current != NO_REFERENCE:
            self.reference_box.setCurrentText(current)
        else:
            self.reference_box.setCurrentText(GROUND_TRUTH if GROUND_TRUTH in names
                                              else names[-1])
        self.reference_box.blockSignals(False)

    def chosen_reference(self, entry: ScanEntry | None) -> Reference | None:
        """The reference picked in the box, for a reconstruction of ``entry``."""
        choice = self.reference_box.currentText()
        if choice == GROUND_TRUTH and entry is not None and entry.scan.ground_truth is not None:
            return Reference(entry.scan.ground_truth, (0.0, 0.0),
                             f"ground truth of {entry.name}")
        return self.references.get(choice)

    @Slot()
    def choose_and_load_reference(self) -> None:
        path = self.context.dialogs.open_file(self.context.window, "Load reference",
                                              REFERENCE_FILTER)
        if path is not None:
            self.load_reference(path)

    def load_reference(self, path: Path) -> Job:
        """Read a reference reconstruction and compare the one on show with it."""
        return self.context.jobs.start("Load reference", load_reference_task(Path(path)),
                                       on_success=self._on_reference_loaded)

    def _on_reference_loaded(self, reference: Reference) -> None:
        self.references[reference.label] = reference
        self._fill_references(self.context.session.current_scan())
        self.reference_box.setCurrentText(reference.label)
        self._on_reference_chosen()

    @Slot()
    def _on_reference_chosen(self, *_args: object) -> None:
        """Compare the reconstruction on show with the newly chosen reference."""
        shown = self.context.session.reconstruction
        if shown is None:
            return
        entry = self.context.session.entry(shown.scan_key)
        reference = self.chosen_reference(entry)

        def done(answer: tuple[dict | None, str]) -> None:
            metrics, note = answer
            current = self.context.session.reconstruction
            if current is not None and current.reconstruction is shown.reconstruction:
                self.context.session.set_reconstruction(_with_reference(current, reference,
                                                                        metrics, note))

        self._comparisons.request(compare_task(shown.reconstruction, reference), done)

    # ----------------------------------------------------------- reconstruct
    @Slot(object)
    def _on_scan(self, entry: ScanEntry | None) -> None:
        self._fill_references(entry)
        self._update_buttons()

    @Slot(object)
    def _on_model(self, model: ModelEntry | None) -> None:
        """Show the model's details and stitch a scan with it (the one it trained on, if
        open, else the selected one when its pattern size fits)."""
        self.model_details.setPlainText(model.details if model is not None else "")
        self._update_buttons()
        if self.context.session.reconstruction is None:  # else the banner stays with the
            self._show_convergence(model)                 # images on show until replaced
        if model is None:
            self.info_label.setText("No model yet.")
            return
        self.info_label.setText(f"Model: {model.label}")
        session = self.context.session
        entry = session.entry(model.scan_key) if model.scan_key is not None else None
        entry = entry or session.current_scan()
        if entry is not None and entry.scan.N != model.N:
            self.info_label.setText(f"Model: {model.label}, for {model.N} × {model.N} "
                                    f"patterns; {entry.name} has {entry.scan.N} × "
                                    f"{entry.scan.N}: select a scan of that size and click "
                                    "Reconstruct.")
        elif entry is not None:
            with self.context.reporter.guard("Reconstruct"):
                self.reconstruct(entry)

    @Slot()
    def reconstruct_current(self) -> None:
        with self.context.reporter.guard("Reconstruct"):
            entry = self.context.session.current_scan()
            if entry is None:
                raise PtychoError("open and select a scan to reconstruct")
            self.reconstruct(entry)

    def reconstruct(self, entry: ScanEntry) -> Job:
        """Stitch ``entry``'s scan with the session's model and compare it, in a worker."""
        model = self.context.session.model
        if model is None:
            raise PtychoError("no model yet: train one, pick a run in the run list, or Load "
                              "Model…")
        reference = self.chosen_reference(entry)
        self.info_label.setText(f"Reconstructing {entry.name} with {model.label}…")

        def done(result: ReconstructionResult) -> None:
            self.context.session.set_reconstruction(ReconstructionEntry(
                reconstruction=result.reconstruction, scan_key=entry.key, scan_name=entry.name,
                model=model, display=result.display,
                reference=None if reference is None else reference.object,
                reference_offset=(0.0, 0.0) if reference is None else reference.offset,
                reference_label="" if reference is None else reference.label,
                metrics=result.metrics, metrics_note=result.metrics_note))

        return self._requests.request(reconstruct_task(model.source, entry.scan, reference),
                                      done, title="Reconstruct")

    # ------------------------------------------------------------- model files
    @Slot()
    def choose_and_load_model(self) -> None:
        path = self.context.dialogs.open_file(self.context.window, "Load model bundle",
                                              BUNDLE_FILTER)
        if path is not None:
            self.load_model(path)

    def load_model(self, path: Path) -> Job:
        """Open and check a bundle in a worker; its manifest is shown before it is used."""
        return self.context.jobs.start("Load model", load_bundle_task(Path(path)),
                                       on_success=self._on_bundle_loaded,
                                       message=f"Checking {Path(path).name}…")

    def _on_bundle_loaded(self, bundle: Bundle) -> None:
        details = describe_bundle(bundle.summary())
        entry = self.context.session.current_scan()
        action = (f"Use this model and reconstruct {entry.name}?" if entry is not None
                  else "Use this model?")
        if not self.context.dialogs.confirm(self.context.window, "Load model",
                                            f"{details}\n\n{action}"):
            return
        convergence = bundle.convergence
        self.context.session.set_model(ModelEntry(
            kind="bundle", label=f"{bundle.path.name} ({convergence.headline})", source=bundle,
            N=bundle.N, probe=bundle.probe,
            train_losses=tuple(r.train_loss for r in bundle.history), details=details,
            convergence=convergence))

    # ----------------------------------------------------------------- show
    def _show_convergence(self, model: ModelEntry | None) -> None:
        """The banner over the images: shown unless the model's fit converged (or there is
        no model); it names the reason and what to try."""
        self.convergence_banner.show_banner(model.convergence if model is not None else None)

    @Slot(object)
    def _show(self, shown: ReconstructionEntry | None) -> None:
        self._update_buttons()
        self._show_convergence(shown.model if shown is not None
                               else self.context.session.model)
        if shown is None:
            self.comparison.set_reconstruction(None)
            self.profile.set_sources([])
            self.metrics.show_metrics(None, "")
            return
        recon = shown.reconstruction
        shown_object = shown.display if shown.display is not None else recon.object
        self.comparison.set_reconstruction(shown_object, recon.offset, recon.positions)
        self.comparison.set_reference(shown.reference, shown.reference_offset,
                                      shown.reference_label or "reference")
        sources = [ProfileSource("reconstruction", shown_object, recon.offset)]
        if shown.reference is not None:
            sources.append(ProfileSource(shown.reference_label, shown.reference,
                                         shown.reference_offset))
        if not self.profile_toggle.isChecked():
            self.profile.place_across(recon.offset, recon.object.shape)
        self.profile.set_sources(sources)
        self.metrics.show_metrics(shown.metrics, shown.metrics_note)
        height, width = recon.object.shape
        text = (f"{shown.scan_name}: {height} × {width} px object from "
                f"{len(recon.positions):,} positions, offset (row, col) = "
                f"({recon.offset[0]:g}, {recon.offset[1]:g}); model {shown.model.label}")
        if recon.prediction_unused:
            text += (". The model's prediction was not used: it explained this scan worse "
                     "than a flat object, so this is the physics refinement's result alone")
        self.info_label.setText(text)

    @Slot(bool)
    def _on_profile_toggled(self, on: bool) -> None:
        self.profile.setVisible(on)
        shown = self.context.session.reconstruction
        if on and shown is not None:
            self.profile.place_across(shown.reconstruction.offset,
                                      shown.reconstruction.object.shape)
        self.profile.set_active(on)

    def _update_buttons(self) -> None:
        session = self.context.session
        self.reconstruct_button.setEnabled(session.model is not None
                                           and session.current_scan() is not None)
        has = session.reconstruction is not None
        self.save_button.setEnabled(has)
        self.png_button.setEnabled(has)

    # ---------------------------------------------------------------- saving
    @Slot()
    def choose_and_save(self) -> None:
        shown = self.context.session.reconstruction
        if shown is None:
            return
        entry = self.context.session.entry(shown.scan_key)
        folder = entry.path.parent if entry is not None else Path.home()
        path = self.context.dialogs.save_file(self.context.window, "Save reconstruction",
                                              RESULT_FILTER,
                                              str(folder / f"{shown.scan_name}_recon.npz"))
        if path is not None:
            self.save_reconstruction(path)

    def save_reconstruction(self, path: Path) -> Job | None:
        """Write the reconstruction on show; the suffix picks NPZ, product HDF5 or TIFF."""
        shown = self.context.session.reconstruction
        if shown is None:
            return None
        entry = self.context.session.entry(shown.scan_key)
        task = save_reconstruction_task(shown.reconstruction, Path(path),
                                        scan=entry.scan if entry is not None else None,
                                        probe=shown.model.probe,
                                        losses=shown.model.train_losses)
        return self.context.jobs.start("Save reconstruction", task,
                                       on_success=self._on_saved)

    def _on_saved(self, written: list[Path]) -> None:
        names = ", ".join(str(path) for path in written)
        self.context.window.statusBar().showMessage(f"Wrote {names}", 8000)

    @Slot()
    def choose_and_save_png(self) -> None:
        shown = self.context.session.reconstruction
        if shown is None:
            return
        path = self.context.dialogs.save_file(self.context.window, "Save view as PNG",
                                              PNG_FILTER, f"{shown.scan_name}_recon.png")
        if path is not None:
            with self.context.reporter.guard("Save view as PNG"):
                self.save_png(path)

    def save_png(self, path: Path) -> Path:
        """Write the images (with the convergence banner and the profile, when shown) as a
        PNG file."""
        path = Path(path) if Path(path).suffix.lower() == ".png" else Path(path).with_suffix(
            ".png")
        if not self.images_panel.grab().save(str(path), "PNG"):
            raise OSError(f"{path}: cannot write the PNG file; check the folder exists and is "
                          "writable")
        self.context.window.statusBar().showMessage(f"Wrote {path}", 8000)
        return path


def _with_reference(entry: ReconstructionEntry, reference: Reference | None,
                    metrics: dict | None, note: str) -> ReconstructionEntry:
    return replace(entry, reference=None if reference is None else reference.object,
                   reference_offset=(0.0, 0.0) if reference is None else reference.offset,
                   reference_label="" if reference is None else reference.label,
                   metrics=metrics, metrics_note=note)
