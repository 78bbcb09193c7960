"""The README's configuration tables and the code agree, both ways."""

import re

from realtime.conf import DEFAULTS
from tests.live import ROOT

README = (ROOT / "README.md").read_text()
SETTINGS = (ROOT / "orderlines" / "settings.py").read_text()
# How settings.py reads the environment: os.environ.get("X"...), env_bool("X"...), env_list("X"...).
READ_IN_CODE = re.compile(r'(?:os\.environ\.get|env_bool|env_list)\(\s*"([A-Z0-9_]+)"')
# The first cell of a table row: a name in backticks.
ROW_NAME = re.compile(r"^\|\s*`([A-Za-z0-9_]+)`\s*\|", re.MULTILINE)


def section(heading: str) -> str:
    """The README text under ``heading`` (a ### heading) up to the next heading."""
    start = README.index(heading)
    rest = README[start + len(heading) :]
    end = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def test_environment_table_matches_settings_py():
    in_table = set(ROW_NAME.findall(section("### Environment variables")))
    in_code = set(READ_IN_CODE.findall(SETTINGS))
    assert in_code, "no environment reads found: did settings.py change how it reads them?"
    assert in_code - in_table == set(), "read in orderlines/settings.py but not in the README"
    assert in_table - in_code == set(), "in the README but not read in orderlines/settings.py"


def test_realtime_table_matches_conf_defaults():
    in_table = set(ROW_NAME.findall(section("### `settings.REALTIME`")))
    assert set(DEFAULTS) - in_table == set(), "keys of realtime.conf.DEFAULTS missing in README"
    assert in_table - set(DEFAULTS) == set(), "README lists keys realtime.conf does not have"


def test_readme_quick_start_installs_the_npm_package():
    quick_start = section("## Quick start")
    assert "npm ci" in quick_start
    assert quick_start.index("npm ci") < quick_start.index("manage.py demo")
