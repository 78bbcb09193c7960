"""``check --deploy`` is clean apart from what needs HTTPS; system checks name the setting."""

import os
import re
import subprocess
import sys

import pytest
from django.core import checks

from tests.live import ROOT

# Warnings that only go away behind HTTPS (HSTS, SSL redirect, secure cookies).
HTTPS_ONLY = {"security.W004", "security.W008", "security.W012", "security.W016"}


def test_check_deploy_is_clean_but_for_https(redis_url):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "x" * 30 + "-production-like-key-" + "y" * 30,
        "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "orderlines.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = set(re.findall(r"\(([a-z_]+\.[EW]\d{3})\)", result.stdout + result.stderr))
    assert found <= HTTPS_ONLY, result.stdout + result.stderr
    assert result.returncode == 0


def test_realtime_checks_name_the_setting_to_fix(settings):
    settings.REALTIME = {**settings.REALTIME, "STORE": "no.such.Store", "ALLOWED_ORIGINS": ["*"]}
    messages = {m.id: m for m in checks.run_checks(tags=["realtime"])}
    assert "REALTIME['STORE']" in messages["realtime.E002"].msg
    assert "ALLOWED_ORIGINS" in messages["realtime.W002"].msg


def test_unknown_realtime_key_is_an_error(settings):
    settings.REALTIME = {**settings.REALTIME, "ALLOWED_ORIGIN": []}
    messages = {m.id: m for m in checks.run_checks(tags=["realtime"])}
    assert "ALLOWED_ORIGIN" in messages["realtime.E001"].msg


@pytest.mark.parametrize("group_prefix", ["x" * 120, "bad prefix!"])
def test_invalid_group_names_are_refused_with_the_setting_named(settings, group_prefix):
    from realtime import groups

    settings.REALTIME = {**settings.REALTIME, "GROUP_PREFIX": group_prefix}
    with pytest.raises(ValueError, match="GROUP_PREFIX"):
        groups.route_group("running_logger")


@pytest.mark.parametrize("key", ["pi-1", "x" * 500, "späť/ü ?", "a" * 64, "a" * 65])
def test_any_id_maps_to_a_valid_group_name(key):
    from realtime import groups

    name = groups.key_group("running_logger", key)
    assert re.fullmatch(r"[A-Za-z0-9_\-.]{1,99}", name)
    assert name != groups.key_group("running_logger", key + "x")
