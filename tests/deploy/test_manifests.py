"""The Dockerfile, compose.yaml and the Kubernetes manifests, checked without a container
engine: they parse, they name real settings and paths, their mapping file validates, and
the commands they run are the ones the daemon tests run (tests/sync/test_daemon.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import load_mapping_text
from config.settings import DEFAULT_SECRETS_DIR, load_settings
from config.shards import parse_shard

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SECRETS_DIR = str(DEFAULT_SECRETS_DIR)
DAEMON = ["python", "/app/run.py", "daemon"]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No OKRSYNC_* variables, no .env and an empty secrets folder: only what a test gives."""
    for key in list(os.environ):
        if key.startswith("OKRSYNC_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "no-secrets"
    empty.mkdir()
    monkeypatch.setenv("OKRSYNC_SECRETS_DIR", str(empty))
    return tmp_path


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = DOCKERFILE.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.strip() and not line.startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


SHARDED = DEPLOY / "sharded-cronjob"  # a CronJob too: read on its own (`sharded_cronjob`)


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object under deploy/ (the daemon and the plain cronjob), by kind."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if path.parent == SHARDED:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and doc["kind"] != "Kustomization":
                out[doc["kind"]] = doc
    return out


def sharded_cronjob() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((SHARDED / "cronjob.yaml").read_text())
    return doc


def kustomization(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return doc


def applied_files(folder: Path) -> list[Path]:
    """The files `kubectl apply -k folder` reads, following `resources:` into folders."""
    out: list[Path] = []
    for entry in kustomization(folder)["resources"]:
        target = (folder / entry).resolve()
        out += applied_files(target) if target.is_dir() else [target]
    return out


def kinds_in(texts: list[str]) -> list[str]:
    return sorted(doc["kind"] for text in texts for doc in yaml.safe_load_all(text) if doc)


# One `kubectl apply -k deploy/<mode>` applies that mode and never the other.
MODES = {
    "daemon": ["ConfigMap", "Deployment", "Service"],
    "cronjob": ["ConfigMap", "CronJob"],
    "sharded-cronjob": ["ConfigMap", "CronJob"],
}


def test_dockerfile_slim_non_root_no_secrets_default_daemon_healthcheck() -> None:
    instructions = dockerfile_instructions()
    words = [w for w, _ in instructions]
    assert dict(instructions)["FROM"].startswith("python:3.11-slim")
    user = [rest for word, rest in instructions if word == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")
    cmd = json.loads(next(rest for word, rest in instructions if word == "CMD"))
    assert cmd == DAEMON
    health = next(rest for word, rest in instructions if word == "HEALTHCHECK")
    assert json.loads(health[health.index("CMD [") + 4 :]) == ["python", "-m", "sync.health"]
    for word, rest in instructions:
        if word in ("ENV", "ARG"):
            assert not any(s in rest.upper() for s in ("TOKEN", "PASSWORD", "SECRET")), rest


def test_dockerfile_settings_are_valid_and_expose_the_health_port(clean_env: Path) -> None:
    env = docker_env()
    settings = load_settings(
        config=env["OKRSYNC_CONFIG"],
        log_format=env["OKRSYNC_LOG_FORMAT"],
        daemon={
            "health_host": env["OKRSYNC_DAEMON__HEALTH_HOST"],
            "health_port": env["OKRSYNC_DAEMON__HEALTH_PORT"],
        },
    )
    assert settings.daemon.health_host == "0.0.0.0"  # probes come from outside the container
    exposed = [rest for word, rest in dockerfile_instructions() if word == "EXPOSE"]
    assert exposed == [str(settings.daemon.health_port)]


def test_dockerignore_keeps_secrets_and_stores_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".env", "secrets/", "*.db", ".venv", ".git"):
        assert pattern in ignored


def test_manifests_parse_and_hold_the_four_pieces() -> None:
    kinds = manifests()
    assert {"CronJob", "Deployment", "Secret", "ConfigMap"} <= set(kinds)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_applies_alone(mode: str) -> None:
    files = applied_files(DEPLOY / mode)
    assert kinds_in([path.read_text() for path in files]) == MODES[mode]
    assert DEPLOY / "secret.example.yaml" not in files  # never applied as is
    # `kubectl apply -k deploy/` would apply both modes at once: it must find nothing.
    assert not (DEPLOY / "kustomization.yaml").exists()


@pytest.mark.parametrize("mode", MODES)
def test_kubectl_kustomize_renders_one_mode_with_the_pushed_image(mode: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl here: the kustomizations are only read by the test")
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / mode)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert kinds_in([result.stdout]) == MODES[mode]
    (image,) = kustomization(DEPLOY / mode)["images"]
    pushed = f"{image['newName']}:{image['newTag']}"
    rendered = re.findall(r"^\s+image: (\S+)$", result.stdout, re.M)
    assert rendered == [pushed]


def pod_spec(kind: str) -> dict[str, Any]:
    doc = sharded_cronjob() if kind == "ShardedCronJob" else manifests()[kind]
    if kind in ("CronJob", "ShardedCronJob"):
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(doc["spec"]["template"]["spec"])


@pytest.mark.parametrize("kind", ["Deployment", "CronJob", "ShardedCronJob"])
def test_pods_mount_the_secret_as_the_secrets_dir_and_the_mapping_as_the_config(
    kind: str,
) -> None:
    spec = pod_spec(kind)
    volumes = {v["name"]: v for v in spec["volumes"]}
    container = spec["containers"][0]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    secret = volumes[mounts[SECRETS_DIR]["name"]]
    assert secret["secret"]["secretName"] == manifests()["Secret"]["metadata"]["name"]
    config_dir = str(Path(docker_env()["OKRSYNC_CONFIG"]).parent)
    mapping = volumes[mounts[config_dir]["name"]]
    assert mapping["configMap"]["name"] == manifests()["ConfigMap"]["metadata"]["name"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    names = {e["name"] for e in container.get("env", [])}
    assert not any("TOKEN" in n or "DATABASE_URL" in n for n in names)  # secrets only as files


def test_deployment_runs_the_daemon_and_probes_healthz(clean_env: Path) -> None:
    container = pod_spec("Deployment")["containers"][0]
    assert container["command"] == DAEMON
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["health"] == int(docker_env()["OKRSYNC_DAEMON__HEALTH_PORT"])
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    grace = pod_spec("Deployment")["terminationGracePeriodSeconds"]
    assert grace > load_settings().daemon.shutdown_grace_s


def test_cronjob_runs_one_sync_at_a_time() -> None:
    cron = manifests()["CronJob"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    command = pod_spec("CronJob")["containers"][0]["command"]
    assert command[:3] == ["python", "/app/run.py", "sync"]


def test_deployment_replicas_share_a_postgresql_store() -> None:
    """More than one replica only with a store they share: SQLite (one writer, each pod's
    /data its own) forbids it; the example Secret's database_url is PostgreSQL."""
    assert manifests()["Deployment"]["spec"]["replicas"] > 1
    secret = yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())
    assert secret["stringData"]["database_url"].startswith("postgresql://")
    assert "SQLite" in (DEPLOY / "daemon" / "deployment.yaml").read_text()


def test_the_sharded_cronjob_is_an_indexed_job_of_one_pod_per_shard() -> None:
    cron = sharded_cronjob()
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["metadata"]["name"] != manifests()["CronJob"]["metadata"]["name"]
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    container = pod_spec("ShardedCronJob")["containers"][0]
    command = container["command"]
    assert command[:3] == ["python", "/app/run.py", "sync"]
    shard = command[command.index("--shard") + 1]
    index_var, _, count = shard.partition("/")
    assert index_var == "$(JOB_COMPLETION_INDEX)"
    assert job["completions"] == job["parallelism"] == int(count)
    env = {e["name"]: e for e in container["env"]}
    path = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert path == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # each pod's --shard, as Kubernetes expands it, is a valid shard, and they are all of them
    shards = [parse_shard(shard.replace(index_var, str(i))) for i in range(job["completions"])]
    assert [(s.index, s.count) for s in shards] == [(i, int(count)) for i in range(int(count))]


def test_the_configmap_mapping_file_validates() -> None:
    text = manifests()["ConfigMap"]["data"]["okrs.yaml"]
    mapping = load_mapping_text(text, source_name="deploy/base/configmap.yaml")
    assert mapping.schedule is not None


def test_secret_keys_are_settings_when_mounted_like_the_kubelet_does(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Secret volume holds `..data` (a link to a timestamped folder) and a link per key."""
    data = manifests()["Secret"]["stringData"]
    mounted = clean_env / "okrsync"
    mounted.mkdir()
    stamped = mounted / "..2026_11_20_12_00_00.000000001"
    stamped.mkdir()
    values = {key: f"value-of-{key}" for key in data}
    values["database_url"] = "postgresql://okrsync:pw@db.internal:5432/okrsync"
    for key, value in values.items():
        (stamped / key).write_text(value)
    (mounted / "..data").symlink_to(stamped.name)
    for key in data:
        (mounted / key).symlink_to(f"..data/{key}")
    monkeypatch.setenv("OKRSYNC_SECRETS_DIR", str(mounted))
    settings = load_settings()
    assert settings.jira.token is not None
    assert settings.jira.token.get_secret_value() == "value-of-jira__token"
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == "value-of-github__token"
    assert settings.database_url == values["database_url"]


def test_compose_file_parses_with_okr_sync_and_postgres() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["okr-sync"]
    assert "postgres" in compose["services"]
    assert service["command"] == DAEMON
    targets = [s["target"] for s in service["secrets"]]
    assert all(t.startswith(f"{SECRETS_DIR}/") for t in targets)
    assert {Path(t).name for t in targets} == {"database_url", "jira__token", "github__token"}
    assert not any("TOKEN" in k or "PASSWORD" in k for k in service["environment"])
    assert service["ports"] == ["127.0.0.1:9464:9464"]


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "no `docker compose` plugin or docker-compose here: compose.yaml is only parsed"
        )
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "tests"))
    (project / "secrets").mkdir()
    for name in ("postgres_password", "database_url", "jira__token", "github__token"):
        (project / "secrets" / name).write_text("x")
    (project / "okrs.yaml").write_text("version: 1\n")
    result = subprocess.run(
        [*command, "-f", str(project / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
