"""Long work off the GUI thread: Job/run_in_thread, the JobManager, latest-request-wins."""

from .latest import LatestOnly
from .manager import JobManager
from .runner import CancelToken, Job, Task, TaskContext, run_in_thread

__all__ = ["CancelToken", "Job", "JobManager", "LatestOnly", "Task", "TaskContext",
           "run_in_thread"]
