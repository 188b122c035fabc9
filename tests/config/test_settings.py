"""Settings: env vars, .env, the secrets directory, and secrets that never leak."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import config.settings as settings_module
from config.env_names import TOOL_VARIABLES, known_variables, unknown_variables
from config.settings import Settings, SettingsError, load_settings
from sandbox.server import Sandbox
from sync.cli import main
from tests.reliability.record import record


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No OKRSYNC_* from the host, no .env from the repo, no host secrets directory."""
    for name in list(os.environ):
        if name.upper().startswith("OKRSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings_module, "DEFAULT_SECRETS_DIR", tmp_path / "no-such-dir")
    yield tmp_path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.config == Path("okrs.yaml")
    assert settings.database_url == "sqlite:///okrsync.db"
    assert settings.jira.token is None and settings.jira.flavour == "auto"
    assert settings.jira.timeout_s == 30 and settings.jira.max_concurrency == 4
    assert settings.github.base_url is None and settings.github.token is None
    assert settings.log_format == "text" and settings.log_level == "INFO"
    assert (settings.thresholds.on_track, settings.thresholds.at_risk) == (0.9, 0.6)
    assert settings.lock_timeout_s == 0


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRSYNC_CONFIG", "/etc/okrsync/okrs.yaml")
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", "postgresql://okr@db/okr")
    monkeypatch.setenv("OKRSYNC_JIRA__URL", "https://acme.atlassian.net/")
    monkeypatch.setenv("OKRSYNC_JIRA__EMAIL", "bot@acme.test")
    monkeypatch.setenv("OKRSYNC_JIRA__TOKEN", "jira-secret")
    monkeypatch.setenv("OKRSYNC_JIRA__FLAVOUR", "cloud")
    monkeypatch.setenv("OKRSYNC_JIRA__STORY_POINTS_FIELD", "customfield_10016")
    monkeypatch.setenv("OKRSYNC_GITHUB__BASE_URL", "https://ghe.acme.test/api/v3")
    monkeypatch.setenv("OKRSYNC_GITHUB__MAX_CONCURRENCY", "8")
    monkeypatch.setenv("OKRSYNC_LOG_FORMAT", "json")
    monkeypatch.setenv("OKRSYNC_LOG_LEVEL", "debug")
    monkeypatch.setenv("OKRSYNC_THRESHOLDS__ON_TRACK", "0.8")
    monkeypatch.setenv("OKRSYNC_LOCK_TIMEOUT_S", "5")
    settings = load_settings()
    assert settings.config == Path("/etc/okrsync/okrs.yaml")
    assert settings.database_url == "postgresql://okr@db/okr"
    assert settings.jira.url == "https://acme.atlassian.net"
    assert settings.jira.email == "bot@acme.test"
    assert settings.jira.token is not None
    assert settings.jira.token.get_secret_value() == "jira-secret"
    assert settings.jira.flavour == "cloud"
    assert settings.jira.story_points_field == "customfield_10016"
    assert settings.github.base_url == "https://ghe.acme.test/api/v3"
    assert settings.github.max_concurrency == 8
    assert settings.log_format == "json" and settings.log_level == "DEBUG"
    assert settings.thresholds.on_track == 0.8 and settings.thresholds.at_risk == 0.6
    assert settings.lock_timeout_s == 5


def test_dotenv_in_working_directory_and_explicit(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        "OKRSYNC_LOG_LEVEL=WARNING\nOKRSYNC_GITHUB__TOKEN=from-dotenv\n"
    )
    settings = load_settings()
    assert settings.log_level == "WARNING"
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == "from-dotenv"

    other = clean_env / "prod.env"
    other.write_text("OKRSYNC_LOG_LEVEL=ERROR\nUNRELATED=1\n")
    assert load_settings(env_file=other).log_level == "ERROR"

    monkeypatch.setenv("OKRSYNC_LOG_LEVEL", "DEBUG")  # the environment beats .env
    assert load_settings(env_file=other).log_level == "DEBUG"


def test_missing_explicit_env_file_is_an_error(clean_env: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(env_file=clean_env / "nope.env")


def test_secrets_directory(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = clean_env / "secrets"
    secrets.mkdir()
    (secrets / "jira__token").write_text("jira-from-file\n")
    (secrets / "github__token").write_text("gh-from-file")
    monkeypatch.setenv("OKRSYNC_SECRETS_DIR", str(secrets))
    settings = load_settings()
    assert settings.jira.token is not None and settings.github.token is not None
    assert settings.jira.token.get_secret_value() == "jira-from-file"
    assert settings.github.token.get_secret_value() == "gh-from-file"

    monkeypatch.setenv("OKRSYNC_GITHUB__TOKEN", "gh-from-env")  # env beats the file
    settings = load_settings()
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == "gh-from-env"


def test_default_secrets_directory_used_when_present(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = clean_env / "run-secrets"
    default.mkdir()
    (default / "jira__token").write_text("default-dir")
    monkeypatch.setattr(settings_module, "DEFAULT_SECRETS_DIR", default)
    token = load_settings().jira.token
    assert token is not None and token.get_secret_value() == "default-dir"


def test_secrets_dir_that_is_not_a_directory(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRSYNC_SECRETS_DIR", str(clean_env / "missing"))
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value).startswith("OKRSYNC_SECRETS_DIR: ")
    assert "not a directory" in str(info.value)


def test_overrides_win() -> None:
    settings = load_settings(log_level="error", database_url="sqlite:///other.db")
    assert settings.log_level == "ERROR"
    assert settings.database_url == "sqlite:///other.db"


def test_secrets_never_appear_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRSYNC_JIRA__TOKEN", "jira-very-secret")
    monkeypatch.setenv("OKRSYNC_GITHUB__TOKEN", "ghp_verysecret")
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", "postgresql://okr:dbpassword@db:5432/okr")
    settings = load_settings()
    dump = settings.safe_dump()
    shown = [repr(settings), str(settings), repr(settings.jira), str(dump)]
    shown.append(settings.model_dump_json())
    for text in shown:
        assert "jira-very-secret" not in text
        assert "ghp_verysecret" not in text
    assert "dbpassword" not in str(dump)
    assert dump["jira"]["token"] == "***"
    assert dump["github"]["token"] == "***"
    assert dump["database_url"] == "postgresql://okr:***@db:5432/okr"
    assert dump["config"] == "okrs.yaml"


def test_safe_dump_shows_absent_secrets_as_none() -> None:
    dump = load_settings().safe_dump()
    assert dump["jira"]["token"] is None and dump["github"]["token"] is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "OKRSYNC_JIRA__TIMEOUT_S",
            "abc",
            "OKRSYNC_JIRA__TIMEOUT_S: input should be a valid number",
        ),
        ("OKRSYNC_JIRA__TIMEOUT_S", "0", "OKRSYNC_JIRA__TIMEOUT_S: input should be greater than 0"),
        ("OKRSYNC_JIRA__FLAVOUR", "saas", "OKRSYNC_JIRA__FLAVOUR: input should be 'auto'"),
        (
            "OKRSYNC_JIRA__URL",
            "acme.atlassian.net",
            "OKRSYNC_JIRA__URL: 'acme.atlassian.net' is not a URL",
        ),
        (
            "OKRSYNC_GITHUB__MAX_CONCURRENCY",
            "0",
            "OKRSYNC_GITHUB__MAX_CONCURRENCY: input should be",
        ),
        ("OKRSYNC_LOG_FORMAT", "xml", "OKRSYNC_LOG_FORMAT: input should be 'text' or 'json'"),
        ("OKRSYNC_LOG_LEVEL", "loud", "OKRSYNC_LOG_LEVEL: 'loud' is not a log level"),
        (
            "OKRSYNC_DATABASE_URL",
            "okrsync.db",
            "OKRSYNC_DATABASE_URL: 'okrsync.db' is not a database URL",
        ),
        ("OKRSYNC_THRESHOLDS__AT_RISK", "0.95", "OKRSYNC_THRESHOLDS: at_risk (0.95) must be below"),
        (
            "OKRSYNC_LOCK_TIMEOUT_S",
            "-1",
            "OKRSYNC_LOCK_TIMEOUT_S: input should be greater than or equal",
        ),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message
    assert info.value.problems == [message]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql://okr:pw@db/okr",
            "OKRSYNC_DATABASE_URL: 'mysql://okr:***@db/okr': okr-sync stores its data in SQLite "
            "(sqlite:///okrsync.db) or PostgreSQL (postgresql://user@host/database), not in 'mysql'",
        ),
        (
            "foo://bar",
            "OKRSYNC_DATABASE_URL: 'foo://bar': okr-sync stores its data in SQLite "
            "(sqlite:///okrsync.db) or PostgreSQL (postgresql://user@host/database), not in 'foo'",
        ),
        (
            "postgresql+asyncpg://db/okr",
            "OKRSYNC_DATABASE_URL: 'postgresql+asyncpg://db/okr': okr-sync does not ship the "
            "'asyncpg' driver; start the URL with postgresql:// instead",
        ),
    ],
)
def test_a_store_okr_sync_cannot_use_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert info.value.problems == [expected]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://okr@db:5432/okr", "postgresql://okr@db:5432/okr"),
        ("POSTGRES://okr@db/okr", "postgresql://okr@db/okr"),
        ("postgresql+psycopg://okr@db/okr", "postgresql+psycopg://okr@db/okr"),
        (" sqlite:///okr.db ", "sqlite:///okr.db"),
    ],
)
def test_postgres_urls_are_postgresql(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    assert load_settings().database_url == expected


PASSWORD = "s3cret-pa55word"


@pytest.mark.parametrize(
    ("name", "value", "use_instead"),
    [
        ("OKRSYNC_JIRA__URL", f"http://bot:{PASSWORD}@127.0.0.1:8765/jira", "OKRSYNC_JIRA__TOKEN"),
        (
            "OKRSYNC_JIRA__URL",
            f"https://bot%40acme.test:{PASSWORD}@acme.net",
            "OKRSYNC_JIRA__EMAIL",
        ),
        ("OKRSYNC_JIRA__URL", f"https://{PASSWORD}@acme.atlassian.net", "OKRSYNC_JIRA__TOKEN"),
        (
            "OKRSYNC_GITHUB__BASE_URL",
            f"https://x:{PASSWORD}@ghe.test/api/v3",
            "OKRSYNC_GITHUB__TOKEN",
        ),
        ("OKRSYNC_JIRA__URL", f"bot:{PASSWORD}@acme.atlassian.net/jira", "http://"),
        ("OKRSYNC_GITHUB__BASE_URL", f"ftp://x:{PASSWORD}@ghe.test", "http://"),
    ],
)
@pytest.mark.reliability
def test_credentials_in_a_tracker_url_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    use_instead: str,
) -> None:
    """A tracker URL is shown in explain links, lineage, the dashboard and error messages: it
    must not carry `user:password@`. The command stops with exit 2 before reaching anything."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name}: ") and use_instead in message
    assert PASSWORD not in message and "bot" not in message
    assert main(["validate"]) == 2
    shown = capsys.readouterr()
    assert f"error: {name}: " in shown.err
    assert PASSWORD not in shown.out + shown.err
    record(
        "boundary",
        "user:password@ in a tracker URL (Jira, GitHub; with and without a scheme)",
        1,
        "refused, exit 2, naming the variable; the password in no output",
    )


def test_an_at_sign_after_the_host_is_no_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRSYNC_JIRA__URL", "https://acme.atlassian.net/jira/@team")
    assert load_settings().jira.url == "https://acme.atlassian.net/jira/@team"


def test_several_problems_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRSYNC_LOG_FORMAT", "xml")
    monkeypatch.setenv("OKRSYNC_JIRA__TIMEOUT_S", "soon")
    with pytest.raises(SettingsError) as info:
        load_settings()
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert {line.split(":")[0] for line in lines} == {
        "OKRSYNC_LOG_FORMAT",
        "OKRSYNC_JIRA__TIMEOUT_S",
    }


def test_settings_class_alone_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRSYNC_LOG_LEVEL", "warning")
    assert Settings().log_level == "WARNING"


def test_misspelled_variables_are_named_with_the_closest_setting(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRSYNC_GITHUB_TOKEN", "ghp-x")  # one underscore
    monkeypatch.setenv("OKRSYNC_DATABASE__URL", "sqlite:///x.db")  # two
    monkeypatch.setenv("okrsync_log_levle", "debug")
    monkeypatch.setenv("OKRSYNC_ZZZZZZZZ", "1")
    monkeypatch.setenv("OKRSYNC_JIRA__TOKEN", "fine")
    monkeypatch.setenv("OKRSYNC_JIRA", "{}")  # a section as JSON is a setting too
    monkeypatch.setenv("OKRSYNC_TEST_POSTGRES_URL", "postgresql://x/y")  # the tests' own
    (clean_env / "other.env").write_text("OKRSYNC_NOTIFY__WEBHOK_URL=https://x\nPATH_ISH=1\n")
    assert unknown_variables(clean_env / "other.env") == [
        "OKRSYNC_DATABASE__URL is not an okr-sync setting and is ignored; "
        "did you mean OKRSYNC_DATABASE_URL?",
        "OKRSYNC_GITHUB_TOKEN is not an okr-sync setting and is ignored; "
        "did you mean OKRSYNC_GITHUB__TOKEN?",
        "OKRSYNC_ZZZZZZZZ is not an okr-sync setting and is ignored",
        "okrsync_log_levle is not an okr-sync setting and is ignored; "
        "did you mean OKRSYNC_LOG_LEVEL?",
        f"{clean_env / 'other.env'}: OKRSYNC_NOTIFY__WEBHOK_URL is not an okr-sync setting and "
        "is ignored; did you mean OKRSYNC_NOTIFY__WEBHOOK_URL?",
    ]


def test_every_variable_the_docs_name_is_known(sandbox: Sandbox) -> None:
    """The README, the deployment files and the sandbox name settings; none may warn."""
    root = Path(__file__).resolve().parents[2]
    texts = [root / "README.md", root / "compose.yaml", *sorted((root / "deploy").rglob("*.y*ml"))]
    named = {
        name.rstrip("_")
        for path in texts
        for name in re.findall(r"OKRSYNC_[A-Z0-9_]+", path.read_text(encoding="utf-8"))
    }
    named |= set(sandbox.settings_env())
    named -= {"OKRSYNC", "OKRSYNC_DAEMON__HEALTH_HOST_"}  # prose: "OKRSYNC_*", "/ _PORT"
    named -= {"OKRSYNC_GITHUB_TOKEN"}  # the README's example of a misspelt name
    assert "OKRSYNC_JIRA__TOKEN" in named and "OKRSYNC_INCREMENTAL__PRUNE_AFTER" in named
    assert sorted(named - known_variables() - TOOL_VARIABLES) == []
