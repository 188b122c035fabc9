"""Runtime settings: environment variables (`OKRSYNC_*`), a `.env` file and a secrets directory.

Secrets (tracker tokens) are `SecretStr` so they never reach a repr, a log line or the store;
`Settings.safe_dump()` is what may be shown.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as _PydanticSettingsError

from config.cadence import parse_duration
from config.shards import Shard, parse_shard

ENV_PREFIX = "OKRSYNC_"
NESTED_DELIMITER = "__"
DEFAULT_SECRETS_DIR = Path("/run/secrets/okrsync")
SECRETS_DIR_VAR = "OKRSYNC_SECRETS_DIR"
_MASK = "***"


class SettingsError(Exception):
    """Invalid settings; one line per problem, each naming the environment variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class JiraSettings(BaseModel):
    """How to reach Jira (Cloud or Server/Data Center)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    email: str | None = None
    token: SecretStr | None = None
    flavour: Literal["auto", "cloud", "server"] = "auto"
    story_points_field: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return _check_url(value, "OKRSYNC_JIRA__EMAIL and OKRSYNC_JIRA__TOKEN")


class GitHubSettings(BaseModel):
    """How to reach GitHub; `base_url` None means api.github.com, else GitHub Enterprise."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    token: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("base_url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return _check_url(value, "OKRSYNC_GITHUB__TOKEN")


class StatusThresholds(BaseModel):
    """Ratios of progress to expected progress: >= on_track is on track, >= at_risk at risk."""

    model_config = ConfigDict(extra="forbid")

    on_track: float = Field(default=0.9, gt=0)
    at_risk: float = Field(default=0.6, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> StatusThresholds:
        if self.at_risk >= self.on_track:
            raise ValueError(f"at_risk ({self.at_risk}) must be below on_track ({self.on_track})")
        return self


class NotifySettings(BaseModel):
    """Where the digest after a run goes. A webhook URL carries its own credential (Slack's
    are secret by design), so it is a `SecretStr`; no URL set means no digest."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: SecretStr | None = None
    format: Literal["slack", "json"] = "slack"
    timeout_s: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=3, ge=1, le=10)
    retry_wait_s: float = Field(default=1.0, ge=0)
    deadline_s: float = Field(default=30.0, gt=0)  # every attempt and pause included

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().strip().startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        return SecretStr(value.get_secret_value().strip())


class DashboardSettings(BaseModel):
    """The read-only web dashboard (`serve`, also mounted by the daemon)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token: SecretStr | None = None  # when set, every request needs `Authorization: Bearer ...`
    # Requests answered at once (each holds one store connection); more wait up to
    # `busy_wait_s` for a turn, then get 503 with Retry-After: a burst never exhausts the
    # store's connections.
    max_concurrent: int = Field(default=4, ge=1, le=64)
    busy_wait_s: float = Field(default=10.0, ge=0, le=300)


class DaemonSettings(BaseModel):
    """`run.py daemon`: its default cadence, health endpoint and shutdown bound."""

    model_config = ConfigDict(extra="forbid")

    every: float | None = None  # a duration such as 30m; beats the mapping file's schedule
    health_host: str = "127.0.0.1"  # 0.0.0.0 in a container, so probes can reach it
    health_port: int = Field(default=9464, ge=0, le=65535)
    # The health port answers /healthz and /metrics only; true adds the dashboard and JSON
    # API there too (its host is 0.0.0.0 in the image, so mind OKRSYNC_DASHBOARD__TOKEN).
    health_serves_dashboard: bool = False
    unhealthy_after_intervals: float = Field(default=3.0, gt=0)
    # /healthz says "degraded" (still 200) when this share of the key results failed their
    # last run: a partial run lands, but a store of stale values is not healthy either.
    degraded_at_failed_share: float = Field(default=0.5, gt=0, le=1)
    shutdown_grace_s: float = Field(default=20.0, ge=0)

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return parse_duration(value)


class IncrementalSettings(BaseModel):
    """Incremental sync: reuse the store's cache of fetched items, ask only what changed."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    full_refresh_every: float = 86400.0  # seconds; a full fetch catches deletions and moves
    # Cache entries no run has used for this long (a query gone from the mapping file) are
    # deleted; one still in use is only fetched in full again after it.
    prune_after: float = 7 * 86400.0
    margin_s: float = Field(default=600.0, ge=0)  # clock skew and search-index lag allowance
    rate_wait_budget_s: float = Field(default=600.0, ge=0)  # total waiting for rate limits

    @field_validator("full_refresh_every", "prune_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value) if isinstance(value, str) else float(str(value))


def _check_url(value: str | None, credential_settings: str) -> str | None:
    """A tracker's http(s) URL without credentials in it: a URL is shown in links, the
    dashboard and error messages, so `user:password@` would show with it (and is never
    echoed here either)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        shown = "the value" if "@" in value else repr(value)  # `user:password@` stays unsaid
        raise ValueError(f"{shown} is not a URL: it must start with http:// or https://")
    if "@" in urlsplit(value).netloc:
        raise ValueError(
            "the URL must not carry a user name or password (user:password@host): "
            f"it is shown in links and messages; set {credential_settings} instead"
        )
    return value.rstrip("/")


class Settings(BaseSettings):
    """Everything okr-sync needs besides the mapping file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        secrets_prefix="",
        secrets_nested_delimiter=NESTED_DELIMITER,
        secrets_dir_missing="ok",
        extra="ignore",
        validate_default=True,
    )

    config: Path = Path("okrs.yaml")
    database_url: str = "sqlite:///okrsync.db"
    jira: JiraSettings = Field(default_factory=JiraSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    thresholds: StatusThresholds = Field(default_factory=StatusThresholds)
    lock_timeout_s: float = Field(default=0.0, ge=0)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    incremental: IncrementalSettings = Field(default_factory=IncrementalSettings)
    shard: Shard | None = None  # `I/N`: only the namespaces of that shard (config.shards)

    @field_validator("shard", mode="before")
    @classmethod
    def _shard(cls, value: object) -> Shard | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return parse_shard(value)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError(f"{value!r} is not a log level: use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("database_url")
    @classmethod
    def _is_a_store(cls, value: str) -> str:
        return _check_database_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Secret files are named like env vars without the prefix: `jira__token`."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            NestedSecretsSettingsSource(file_secret_settings),
        )

    def safe_dump(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked, fit for logs and `validate`."""
        data = self.model_dump(mode="json")
        for section, model in (("jira", self.jira), ("github", self.github)):
            data[section]["token"] = None if model.token is None else _MASK
        data["notify"]["webhook_url"] = None if self.notify.webhook_url is None else _MASK
        data["dashboard"]["token"] = None if self.dashboard.token is None else _MASK
        data["database_url"] = _mask_url_password(self.database_url)
        return data


# The stores okr-sync is built and tested for, and the driver each URL scheme names.
_STORE_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
    "postgres": "postgresql",  # what Heroku, Render and many a .env spell it
}


def _check_database_url(value: str) -> str:
    """A SQLite or PostgreSQL URL, `postgres://` spelt the way SQLAlchemy knows it. Checked
    here so that any other store is a configuration error (exit 2), not a traceback from
    deep inside SQLAlchemy when the store is opened. A password in the URL is never shown."""
    value = value.strip()
    shown = repr(_mask_url_password(value))
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ValueError(f"{shown} is not a database URL, e.g. sqlite:///okrsync.db")
    if scheme.lower() not in _STORE_SCHEMES:
        base, _, driver = scheme.lower().partition("+")
        if driver and base in _STORE_SCHEMES:
            raise ValueError(
                f"{shown}: okr-sync does not ship the {driver!r} driver; "
                f"start the URL with {_STORE_SCHEMES[base]}:// instead"
            )
        raise ValueError(
            f"{shown}: okr-sync stores its data in SQLite (sqlite:///okrsync.db) or "
            f"PostgreSQL (postgresql://user@host/database), not in {base!r}"
        )
    return f"postgresql://{rest}" if scheme.lower() == "postgres" else value


def _mask_url_password(url: str) -> str:
    """Hide the password of `scheme://user:password@host/...` URLs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{_MASK}@{host}"


def env_var_for(loc: tuple[int | str, ...]) -> str:
    """The environment variable that sets the field at `loc`, e.g. OKRSYNC_JIRA__TOKEN."""
    return ENV_PREFIX + NESTED_DELIMITER.join(str(part).upper() for part in loc)


def _secrets_dir() -> Path | None:
    configured = os.environ.get(SECRETS_DIR_VAR)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_dir():
            raise SettingsError([f"{SECRETS_DIR_VAR}: {configured} is not a directory"])
        return path
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    message = str(error["msg"])
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        message = str(error["ctx"]["error"])
    elif message:
        message = message[0].lower() + message[1:]
    secret = bool(loc) and loc[-1] in ("token", "webhook_url")
    value = error.get("input")
    if not secret and isinstance(value, str | int | float) and error["type"] != "value_error":
        shown = repr(value)
        if len(shown) <= 80:
            message += f" (got {shown})"
    return f"{env_var_for(loc)}: {message}"


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from overrides, the environment, `.env` (or `env_file`) and the secrets dir.

    Raises SettingsError with one line per problem; never echoes a secret.
    """
    if env_file is not None and not env_file.is_file():
        raise SettingsError([f"env file {env_file} does not exist"])
    secrets_dir = _secrets_dir()
    try:
        return Settings(
            _env_file=env_file if env_file is not None else ".env",
            _secrets_dir=secrets_dir,
            **overrides,
        )
    except ValidationError as exc:
        raise SettingsError([_describe(dict(error)) for error in exc.errors()]) from None
    except _PydanticSettingsError as exc:
        raise SettingsError([f"settings: {exc}"]) from None
