"""The browser test's setup: without root it skips with the reason instead of running apt-get."""

import os
import subprocess

import pytest

from tests.cockpit.test_browser import install_or_skip


def test_without_root_a_missing_chromium_is_a_skip_that_says_why(monkeypatch):
    ran = []
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))  # apt-get must not even be tried
    with pytest.raises(pytest.skip.Exception, match=r"takes root.*apt-get install chromium fonts-wqy-microhei"):
        install_or_skip(["chromium", "fonts-wqy-microhei"])
    assert ran == []
    install_or_skip([])  # nothing missing: nothing to do, root or not
