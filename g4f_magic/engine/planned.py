"""What a sweep and a batch share: several jobs planned as one run, checked before any request is sent.

Light on purpose (the job itself brings the provider and aiohttp), so the notebook can load both without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend import Backend
    from .job import Job

__all__ = ["ManyJobs"]


class ManyJobs:
    """A base for a dataclass with a ``jobs`` field: how many requests it makes, and one check for all."""

    jobs: list[Job]

    @property
    def count(self) -> int:
        return len(self.jobs)

    @property
    def client(self) -> Backend:
        """Where every job goes and as whom: one client for them all."""
        return self.jobs[0].client

    def check(self) -> None:
        for job in self.jobs:
            job.check()
