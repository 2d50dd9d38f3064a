"""The safe YAML loader kokuho reads its rule and data files with (``SafeYamlLoader``).

PyYAML's safe loader turns an unquoted ``2021-02-30`` or ``0000-01-01`` into a date by calling
``datetime.date``, whose ``ValueError`` is not a ``yaml.YAMLError``: the readers, which report a
``YAMLError`` as the file's problem with its line, let it through as an internal error. This
loader raises a ``ConstructorError`` at the scalar instead, so an impossible date in a rule file
(規則ファイル) is refused naming the file and the line like any other YAML mistake.
"""

from __future__ import annotations

import datetime as dt

import yaml
from yaml.constructor import ConstructorError

__all__ = ["SafeYamlLoader"]

try:  # libyaml's parser when PyYAML was built with it (several times faster)
    from yaml import CSafeLoader as _Base
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Base  # type: ignore[assignment]


class SafeYamlLoader(_Base):
    """``yaml.CSafeLoader`` (or ``SafeLoader``) whose impossible dates are YAML errors."""


def _timestamp(loader: SafeYamlLoader, node: yaml.ScalarNode) -> dt.date | dt.datetime:
    try:
        value: dt.date | dt.datetime = yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as error:
        reason = f"{node.value!r} is not a date ({error})"
        raise ConstructorError(None, None, reason, node.start_mark) from None
    return value


SafeYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
