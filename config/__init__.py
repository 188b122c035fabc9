"""Settings (env vars, .env, secrets dir) and the mapping file (schema, loader, expressions)."""

from config.conditions import Condition, parse_condition
from config.expressions import ExpressionError, Formula, parse_formula
from config.github_filters import GitHubFilter
from config.loader import MappingError, MappingIssue, load_mapping, load_mapping_text
from config.mapping import KeyResult, MappingFile, Objective
from config.metric_models import Metric
from config.periods import Period, PeriodError, parse_period
from config.placeholders import PlaceholderError, expand
from config.settings import (
    GitHubSettings,
    JiraSettings,
    Settings,
    SettingsError,
    StatusThresholds,
    load_settings,
)

__all__ = [
    "Condition",
    "ExpressionError",
    "Formula",
    "GitHubFilter",
    "GitHubSettings",
    "JiraSettings",
    "KeyResult",
    "MappingError",
    "MappingFile",
    "MappingIssue",
    "Metric",
    "Objective",
    "Period",
    "PeriodError",
    "PlaceholderError",
    "Settings",
    "SettingsError",
    "StatusThresholds",
    "expand",
    "load_mapping",
    "load_mapping_text",
    "load_settings",
    "parse_condition",
    "parse_formula",
    "parse_period",
]
