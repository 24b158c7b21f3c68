"""The status bar's permanent parts: cursor read-out, task progress with Cancel, the device."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from .workers import JobManager


class StatusPanel:
    """Adds the read-out, progress bar, cancel button and device label to ``status_bar``."""

    def __init__(self, status_bar: QStatusBar, jobs: JobManager):
        self.status_bar = status_bar
        self.jobs = jobs
        self.readout = QLabel("")
        self.readout.setObjectName("cursorReadout")
        self.readout.setMinimumWidth(320)
        self.progress = QProgressBar()
        self.progress.setObjectName("taskProgress")
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.task_label = QLabel("")
        self.task_label.setObjectName("taskLabel")
        self.task_label.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("cancelTasksButton")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the running tasks")
        self.cancel_button.setVisible(False)
        self.device = QLabel("Device: checking…")
        self.device.setObjectName("deviceLabel")
        for widget in (self.readout, self.task_label, self.progress, self.cancel_button,
                       self.device):
            status_bar.addPermanentWidget(widget)
        self.cancel_button.clicked.connect(jobs.cancel_all)
        jobs.activityChanged.connect(self.update_activity)

    @Slot(str)
    def show_readout(self, text: str) -> None:
        self.readout.setText(text)

    def show_device(self, description: str) -> None:
        self.device.setText(f"Device: {description}")

    @Slot()
    def update_activity(self) -> None:
        """Show the newest job's message and progress (a busy bar when its size is unknown)."""
        message, done, total = self.jobs.status()
        busy = self.jobs.busy
        for widget in (self.progress, self.task_label, self.cancel_button):
            widget.setVisible(busy)
        if not busy:
            return
        self.task_label.setText(message)
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)
