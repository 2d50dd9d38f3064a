"""The dashboard's state: where its figures come from, the cache they are computed into, the
templates and the audit sink. One per app."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa

from kokuho.checkups import Lake
from kokuho.verify import verify_chain
from kokuho.web.dashboard import _figures_checkups as fc
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard._audit import AuditSink
from kokuho.web.dashboard._jobs import FigureCache, Job
from kokuho.web.dashboard._render import environment
from kokuho.web.dashboard._sources import claims_bundle, incentives_bundle


@dataclass
class Dashboard:
    engine: sa.Engine
    lake_root: Path
    audit: AuditSink
    #: Folder of the V08 archives the lake was fed with (programme lists read whole
    #: documents); ``$KOKUHO_CHECKUP_ARCHIVES``, else the demo's folder when present.
    archives: Path | None = None
    cache: FigureCache = field(default_factory=FigureCache)
    templates: jinja2.Environment = field(default_factory=environment)
    today: Callable[[], dt.date] = dt.date.today
    #: Secure cookies: None = when the request came over https (or through a TLS proxy).
    secure_cookies: bool | None = None

    @classmethod
    def for_home(cls, engine: sa.Engine, home: Path, audit: AuditSink) -> Dashboard:
        archives = os.environ.get("KOKUHO_CHECKUP_ARCHIVES")
        folder = Path(archives) if archives else home / "demo" / "checkups"
        return cls(engine, home / "lake", audit, folder if folder.is_dir() else None)

    def close(self) -> None:
        self.cache.close()

    # -- bundles of figures ----------------------------------------------------------------
    def overview(self) -> Job:
        return self.cache.get(
            "overview", lambda job: fr.overview(self.engine, self.today(), job.report)
        )

    def checkups(self) -> Job:
        return self.cache.get(
            "checkups", lambda job: fc.checkup_figures(self.lake_root, job.report)
        )

    def programmes(self) -> Job:
        def compute(job: Job) -> Any:
            years = fc.snapshot_years(Lake(self.lake_root))
            return fc.programme_lists(self.archives, years, job.report)

        return self.cache.get("programmes", compute)

    def overlaps(self) -> Job:
        return self.cache.get("overlaps", lambda job: fr.overlaps(self.engine, job.report))

    def claims(self, fiscal_year: int) -> Job:
        return self.cache.get(
            f"claims:{fiscal_year}",
            lambda job: claims_bundle(self.engine, self.lake_root, fiscal_year, job.report),
        )

    def incentives(self, fiscal_year: int) -> Job:
        return self.cache.get(
            f"incentives:{fiscal_year}",
            lambda job: incentives_bundle(self.engine, self.lake_root, fiscal_year, job.report),
        )

    def chain(self) -> Job:
        return self.cache.get("chain", lambda job: verify_chain(self.engine))

    def municipalities(self) -> list[fr.Municipality]:
        return fr.municipalities(self.engine)

    def years(self) -> list[int]:
        return fc.snapshot_years(Lake(self.lake_root))

    def grant_years(self) -> list[int]:
        """Fiscal years with a 保険者努力支援制度 rule file (kokuho.incentives)."""
        from kokuho.web.dashboard._incentives_view import rule_years

        return rule_years()

    def warm_up(self) -> None:
        """Starts the common bundles so that the first pages open without waiting."""
        self.overview()
        checkups = self.checkups()

        def claims_of_default_year(job: Job) -> None:
            # Queued behind the checkup figures on the one worker: by now they are done, and
            # they name the year the pages open on (the newest complete one).
            if isinstance(checkups.result, fc.CheckupFigures):
                year, _ = fc.default_year(checkups.result)
                if year is not None:
                    self.claims(year)

        self.cache.get("warm-up", claims_of_default_year)
        grant_years = self.grant_years()
        if grant_years:
            self.incentives(grant_years[-1])
