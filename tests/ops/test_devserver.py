"""`./dev up` twice: the second start prepares nothing, and a documented gap in the data is no warning."""

import logging
from pathlib import Path

from services import SERVICES
from services.placenames import seed as placenames_seed
from tools.devserver import Suite

DATABASES = [*SERVICES, "gateway"]


class CountingSuite(Suite):
    """The real stamp and marker; the preparation itself stood in for by what it leaves that the stamp sees:
    each SQLite file (the real one takes a minute of migrations and seeds)."""

    prepared = 0

    def manage(self, *args: str) -> None:
        assert args == ("prepare",)
        self.prepared += 1
        for name in DATABASES:
            Path(self.env[f"{name.upper()}_DATABASE_URL"].split("///", 1)[1]).touch()


def test_a_second_start_does_not_migrate_and_seed_again(tmp_path):
    env = {f"{name.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / name}.db" for name in DATABASES}
    suite = CountingSuite(env, log_dir=tmp_path / "log")
    suite.prepare()
    assert suite.prepared == 1
    suite.prepare()
    assert suite.prepared == 1  # the stamp written after the first preparation matches
    (tmp_path / "charity.db").unlink()  # a database removed: prepared again
    suite.prepare()
    assert suite.prepared == 2


def test_divisions_without_a_code_are_skipped_without_a_warning(caplog):
    """茶院镇 has no code in any source (DIVISIONS.md): known, so said at INFO, not warned on every load."""
    with caplog.at_level(logging.INFO, logger="placenames.seed"):
        rows = placenames_seed.source_rows()
    assert rows
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "has no code" in r.getMessage()]
    assert [r for r in caplog.records if "茶院镇 has no code" in r.getMessage()]
