"""Long work off the GUI thread: Job/run_in_thread, the JobManager, typed events, stale answers."""

from .events import LossFloor, Preview, Progress, TrainingStarted
from .latest import LatestOnly, Newest
from .manager import JobManager
from .runner import CancelToken, Job, Task, TaskContext, run_in_thread

__all__ = ["CancelToken", "Job", "JobManager", "LatestOnly", "LossFloor", "Newest", "Preview",
           "Progress", "Task", "TaskContext", "TrainingStarted", "run_in_thread"]
