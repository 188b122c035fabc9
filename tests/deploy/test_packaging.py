"""What is installed and what the image holds: config, connectors and sync, never the
sandbox, the benchmark or the tests (issue 13). The wheel is built from a copy of the
checkout, as `pip install .` in the Dockerfile builds it, and run unpacked, away from any
checkout: the commands work, and `demo` says what to do instead of failing on an import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sync.cli import main
from sync.commands import sandbox_checkout
from tests.deploy.test_manifests import dockerfile_instructions

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"config", "connectors", "sync"}
CHECKOUT_ONLY = {"sandbox", "bench", "tests"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip` builds from a copy of the checkout with its sandbox, benchmark and
    tests in it (a copy: building writes build/ and *.egg-info next to the sources)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "checkout"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "run.py"):
        shutil.copy(ROOT / name, source / name)
    litter = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-*", "*.lock")
    for name in sorted(PACKAGES | CHECKOUT_ONLY):
        shutil.copytree(ROOT / name, source / name, ignore=litter)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip_wheel, "--quiet", str(source), "-w", str(tmp / "dist")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = (tmp / "dist").glob("okr_sync-*.whl")
    return path


def test_the_wheel_holds_config_connectors_and_sync_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top - {n for n in top if n.endswith(".dist-info")} == PACKAGES
    assert not [n for n in names if n.split("/", 1)[0] in CHECKOUT_ONLY or n == "run.py"]
    for data in (
        "config/examples/demo.yaml",
        "sync/commands/registry.py",
        "sync/migrations/env.py",
        "sync/templates/base.html",
    ):
        assert data in names, data
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "okrsync = sync.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_package_runs_and_its_demo_says_what_to_do(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    (work / "no-secrets").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    env |= {
        "PYTHONPATH": str(site),  # ahead of the checkout's editable install
        "OKRSYNC_SECRETS_DIR": str(work / "no-secrets"),
        "OKRSYNC_DATABASE_URL": f"sqlite:///{work / 'okrsync-demo.db'}",
    }

    def okrsync(*args: str) -> subprocess.CompletedProcess[str]:
        script = "import sys; from sync.cli import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import sync.cli; print(sync.cli.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    assert okrsync("--help").returncode == 0
    for command in ("demo", "sandbox"):
        done = okrsync(command)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(
            f"error: {command}: the sandbox is not installed here: it comes with okr-sync's "
            "source checkout"
        )
        assert f"run `make {command}` in it" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (work / "okrsync-demo.db").exists()


def test_demo_without_a_checkout_exits_2_before_opening_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The in-process twin of the test above: where the sandbox is looked for decides."""
    monkeypatch.setattr(sandbox_checkout, "CHECKOUT", tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    assert main(["demo"]) == 2
    assert "demo: the sandbox is not installed here" in capsys.readouterr().err
    assert not (tmp_path / "demo.db").exists()


def test_the_checkout_puts_the_sandbox_on_the_import_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`okrsync demo` run from outside the checkout with the editable install."""
    assert sandbox_checkout.CHECKOUT == ROOT
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != ROOT])
    sandbox_checkout.import_path_to_sandbox("demo")
    assert sys.path[-1] == str(ROOT)


def test_the_image_copies_only_what_a_deployment_runs() -> None:
    copied = {
        source.rstrip("/")
        for word, rest in dockerfile_instructions()
        if word == "COPY"
        for source in rest.split()[:-1]
    }
    assert copied == PACKAGES | {"pyproject.toml", "README.md", "run.py"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {f"{name}/" for name in CHECKOUT_ONLY} <= set(ignored)
