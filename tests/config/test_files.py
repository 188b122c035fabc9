"""Many mapping files at once (issue 16): `--config` as a file, a directory or a glob, the
files checked together, every problem located in its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.files import MappingFilesError, load_mapping_files
from config.loader import MappingError

HOSTILE = "<script>alert(1)</script> [bold]x[/bold] & {{today}}"


def mapping(*objectives: str, namespace: str | None = None) -> str:
    head = "version: 1\n" + (f"namespace: {namespace}\n" if namespace else "")
    return head + "period: 2026-Q4\nobjectives:\n" + "".join(objectives)


def objective(oid: str, parent: str | None = None, title: str = "An objective") -> str:
    text = f"  - id: {oid}\n    title: '{title}'\n"
    if parent is not None:
        text += f"    parent: {parent}\n"
    return text + (
        "    key_results:\n"
        f"      - id: {oid}-kr\n"
        "        title: manual\n"
        "        target: 10\n"
        "        metric: {type: manual}\n"
    )


@pytest.fixture
def teams(tmp_path: Path) -> Path:
    folder = tmp_path / "okrs"
    folder.mkdir()
    (folder / "company.yaml").write_text(mapping(objective("grow", title=HOSTILE)))
    (folder / "Platform.yml").write_text(mapping(objective("faster", parent="company/grow")))
    (folder / "mobile.yaml").write_text(mapping(objective("apps", parent="company/grow")))
    (folder / "notes.txt").write_text("not a mapping file")
    return folder


def test_a_directory_is_its_yaml_files_in_name_order(teams: Path) -> None:
    loaded = load_mapping_files(teams)
    assert [f.path.name for f in loaded.files] == ["Platform.yml", "company.yaml", "mobile.yaml"]
    assert [f.namespace for f in loaded.files] == ["platform", "company", "mobile"]
    assert loaded.external_parents == []
    assert loaded.files[1].mapping.objectives[0].title == HOSTILE
    faster = loaded.files[0].mapping.objectives[0]
    assert faster.parent == "company/grow"
    assert loaded.files[0].mapping.external_parent(faster) == ("company", "grow")


def test_a_glob_is_its_matches_and_one_file_is_itself(teams: Path) -> None:
    loaded = load_mapping_files(teams / "*.yaml")
    assert [f.namespace for f in loaded.files] == ["company", "mobile"]
    one = load_mapping_files(teams / "company.yaml")
    assert [f.namespace for f in one.files] == ["company"]


def test_a_parent_in_a_namespace_not_given_is_left_for_the_store(teams: Path) -> None:
    loaded = load_mapping_files(teams / "mobile.yaml")
    [parent] = loaded.external_parents
    assert (parent.namespace, parent.objective_id, parent.line) == ("company", "grow", 6)
    assert parent.location == "objectives[0].parent"


def test_a_parent_in_its_own_namespace_is_its_id(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(mapping(objective("top"), objective("sub", parent="team/top")))
    [file] = load_mapping_files(path).files
    assert file.mapping.objectives[1].parent == "top"
    assert file.mapping.children("top") == [file.mapping.objectives[1]]


def test_an_empty_directory_and_a_glob_matching_nothing_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("# nothing")
    with pytest.raises(MappingError, match=r"empty: no mapping files \(\*\.yaml, \*\.yml\)"):
        load_mapping_files(tmp_path / "empty")
    with pytest.raises(MappingError, match=r"teams/\*\.yaml: no file matches this pattern"):
        load_mapping_files(str(tmp_path / "teams" / "*.yaml"))


def test_two_files_of_one_namespace_name_both_files(teams: Path) -> None:
    (teams / "web.yaml").write_text(mapping(objective("web"), namespace="mobile"))
    with pytest.raises(MappingError) as caught:
        load_mapping_files(teams)
    message = str(caught.value)
    assert f"{teams / 'web.yaml'}:2: namespace: namespace 'mobile' is also" in message
    assert str(teams / "mobile.yaml") in message


def test_every_files_errors_are_reported_together(teams: Path) -> None:
    (teams / "a-broken.yaml").write_text(mapping(objective("x")).replace("2026-Q4", "2026-Q5"))
    (teams / "z-broken.yaml").write_text(mapping(objective("y", parent="nowhere")))
    with pytest.raises(MappingFilesError) as caught:
        load_mapping_files(teams)
    message = str(caught.value)
    assert f"{teams / 'a-broken.yaml'}:2: period:" in message
    assert f"{teams / 'z-broken.yaml'}:6: objectives[0].parent: unknown parent 'nowhere'" in message


def test_a_parent_missing_from_its_namespaces_file_is_located(teams: Path) -> None:
    (teams / "mobile.yaml").write_text(mapping(objective("apps", parent="company/grwo")))
    with pytest.raises(MappingError) as caught:
        load_mapping_files(teams)
    assert str(caught.value) == (
        f"{teams / 'mobile.yaml'}:6: objectives[0].parent: unknown parent 'company/grwo': "
        f"{teams / 'company.yaml'} has no objective 'grwo'"
    )


def test_an_alignment_cycle_across_files_is_located_and_named(teams: Path) -> None:
    (teams / "company.yaml").write_text(mapping(objective("grow", parent="platform/faster")))
    with pytest.raises(MappingError) as caught:
        load_mapping_files(teams)
    assert str(caught.value) == (
        f"{teams / 'company.yaml'}:6: objectives[0].parent: alignment cycle across files: "
        "company/grow -> platform/faster -> company/grow"
    )


@pytest.mark.parametrize("parent", ["Company/grow", "company/", "a/b/c", "<b>/x"])
def test_a_malformed_parent_reference_is_a_located_error(tmp_path: Path, parent: str) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(mapping(objective("x", parent=f"'{parent}'")))
    with pytest.raises(MappingError, match=r"team\.yaml:6: objectives\[0\]\.parent: .*not a valid"):
        load_mapping_files(path)
