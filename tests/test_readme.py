"""README says what the code does: its column tables are the schema's, its settings table the config's."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from harness import config, schema

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_column_tables_are_generated_from_the_schema():
    assert schema.with_readme_section(README) == README, "run: python -m harness.schema README.md"


def _default(field) -> str:
    value = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    if dataclasses.is_dataclass(value):
        return ""            # a group: its YAML file is named instead
    value = [getattr(v, "value", v) for v in value] if isinstance(value, list) else getattr(value, "value", value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def test_readme_settings_table_lists_every_setting_with_its_default():
    table = README.split("<!-- settings:begin")[1].split("<!-- settings:end -->")[0]
    rows = dict(re.findall(r"^\| `([\w.]+)` \| `([^`]*)` \|", table, re.MULTILINE))
    fields = dataclasses.fields(config.RunConfig)
    assert set(rows) == {f.name for f in fields}
    for f in fields:
        if _default(f):
            assert rows[f.name] == _default(f), f.name
