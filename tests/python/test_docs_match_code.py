"""The docs and the code name the same settings: every environment variable
(REFUND_RECON_*), dbt var, mart and runner flag that README.md or docs/ names
exists in the code, and every one the code reads is documented. Names are
read from the code itself: os.environ / os.getenv reads (ast) in scripts/,
env_var() in profiles.yml, dbt_project.yml, models/ and macros/, var() in
models/ and macros/, the runner's argparse parser (every subcommand), the
models in models/marts/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import PROJECT_DIR


PAGES = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").rglob("*.md"))]
DBT_FILES = [PROJECT_DIR / "profiles.yml", PROJECT_DIR / "dbt_project.yml",
             *sorted((PROJECT_DIR / "models").rglob("*.sql")), *sorted((PROJECT_DIR / "models").rglob("*.yml")),
             *sorted((PROJECT_DIR / "macros").rglob("*.sql"))]
ENV_NAME = re.compile(r"\bREFUND_RECON_[A-Z0-9_]*")
ROLES = ("storefront", "processor", "erp")


def docs_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in PAGES)


def python_env_reads(folder: Path) -> dict[str, str]:
    """REFUND_RECON_* names read through os.environ[...], os.environ.get(...), os.getenv(...) or
    `in os.environ`, a module-level string constant resolved: name -> file:line."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for target in node.targets if isinstance(target, ast.Name)}

        def name_of(node: ast.AST) -> str | None:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return node.value
            if isinstance(node, ast.Name):
                return constants.get(node.id)
            return None

        def is_environ(node: ast.AST) -> bool:
            return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
                isinstance(node, ast.Name) and node.id == "environ")

        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
                key = name_of(node.slice)
            elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute) and (
                    (node.func.attr in ("get", "pop") and is_environ(node.func.value))
                    or (node.func.attr == "getenv")):
                key = name_of(node.args[0])
            elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
                key = name_of(node.left)
            if key and key.startswith("REFUND_RECON_"):
                found.setdefault(key, f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")
    return found


def dbt_env_reads() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in DBT_FILES:
        for match in re.finditer(r"\benv_var\(\s*['\"]([A-Za-z0-9_]+)['\"]", path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), str(path.relative_to(PROJECT_DIR)))
    return found


def dbt_vars() -> set[str]:
    """Every var the project reads: var(...) and the project's validating wrappers
    (whole_number_var, list_var, ...), names built at run time expanded (the enumeration of
    test_settings_injection.py, which fails when it misses one)."""
    from test_settings_injection import read_vars

    return set(read_vars()[0])


def runner_flags() -> dict[str, set[str]]:
    """subcommand -> its long options, read from the runner's own parser; and the REFUND_RECON_*
    names its options default to (under the key '' )."""
    import argparse

    from recon_runner.cli import build_parser

    parser = build_parser()
    flags: dict[str, set[str]] = {"": set()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                flags[name] = {option for item in sub._actions for option in item.option_strings
                               if option.startswith("--") and option != "--help"}
                flags[""] |= {item.default for item in sub._actions
                              if isinstance(item.default, str) and item.default.startswith("REFUND_RECON_")}
    return flags


def marts() -> set[str]:
    return {path.stem for path in (PROJECT_DIR / "models" / "marts").rglob("*.sql")}


def documented_vars(text: str) -> set[str]:
    """Var names the docs give: the first column of a table headed `| var |`, and the keys of a
    `--vars '{...}'` or a `--var name=value` example. `<role>` stands for each role."""
    names: set[str] = set()
    for table in re.findall(r"^\| var \|.*\n\|[-|: ]+\|\n((?:\|.*\n?)*)", text, re.M):
        for line in table.splitlines():
            names |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    for block in re.findall(r"--vars\s+['\"]\{([^}]*)\}", text):
        block = re.sub(r"\"[^\"]*\"|'[^']*'", "", block)
        names |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*:", block))
    names |= set(re.findall(r"--var\s+([A-Za-z_][A-Za-z0-9_]*)=", text))
    expanded = set()
    for name in names:
        expanded |= {name.replace("<role>", role) for role in ROLES} if "<role>" in name else {name}
    return expanded


def test_every_environment_variable_is_documented_and_exists() -> None:
    code = {**python_env_reads(PROJECT_DIR / "scripts"), **dbt_env_reads()}
    code.update({name: "runner option default" for name in runner_flags()[""]})
    known = set(code) | set(python_env_reads(PROJECT_DIR / "tests"))
    text = docs_text()
    named = set(ENV_NAME.findall(text))
    assert not sorted(named - known), f"the docs name environment variables the code does not read: " \
                                      f"{sorted(named - known)}"
    missing = {name: where for name, where in code.items() if name not in named}
    assert not missing, f"environment variables the code reads that no doc names: {missing}"


def reference_table(heading: str) -> dict[str, list[str]]:
    """The table under `heading` in docs/settings.md: first cell's `name` -> the other cells."""
    text = (PROJECT_DIR / "docs" / "settings.md").read_text(encoding="utf-8")
    assert heading in text, f"docs/settings.md has no {heading!r}"
    section = text[text.index(heading) + len(heading):]
    section = section[:section.index("\n#")] if "\n#" in section else section
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and not set(line) <= set("|-: ") and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows[name] = cells[1:]
    return rows


def test_settings_lists_every_environment_variable_with_who_reads_it() -> None:
    """docs/settings.md's table: every variable the code reads, and who reads it (the runner's
    Python, dbt through profiles.yml / the project, or both): a doc that says the runner reads a
    variable only dbt reads (or the reverse) fails here."""
    runner = set(python_env_reads(PROJECT_DIR / "scripts")) | runner_flags()[""]
    dbt = set(dbt_env_reads())
    table = reference_table("## Environment variables")
    expected = {name: ", ".join(who for who, names in (("runner", runner), ("dbt", dbt)) if name in names)
                for name in runner | dbt}
    given = {name: cells[0] for name, cells in table.items()}
    assert given == expected


def test_every_dbt_var_is_documented_and_exists() -> None:
    code = dbt_vars()
    text = docs_text()
    words = set(re.findall(r"[A-Za-z0-9_]+", text))
    missing = sorted(name for name in code if name not in words)
    assert not missing, f"dbt vars the code reads that no doc names: {missing}"
    given = documented_vars(text)
    def pattern(name: str) -> str:   # `<shape>` and `*` stand for any part of a name
        return "".join("[a-z0-9_]+" if part.startswith("<") or part == "*" else re.escape(part)
                       for part in re.split(r"(<[^>]+>|\*)", name))

    unknown = sorted(name for name in given if not any(re.fullmatch(pattern(name), var) for var in code))
    assert not unknown, f"the docs give dbt vars the code never reads: {unknown}"


def test_every_mart_is_documented_and_exists() -> None:
    models = {path.stem for path in (PROJECT_DIR / "models").rglob("*.sql")} | {
        path.stem for path in (PROJECT_DIR / "seeds").glob("*.csv")}
    text = docs_text()
    named = set(re.findall(r"\b((?:fct|dim|rpt|mart)_[a-z0-9_]*[a-z0-9])\b", text))
    assert not sorted(named - models), f"the docs name marts that are not models: {sorted(named - models)}"
    missing = sorted(marts() - named)
    assert not missing, f"marts no doc names: {missing}"
    # The runner publishes every model of models/marts/: a count of them the docs give is that count.
    words = {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
    wrong = [count for count in re.findall(r"\b(\d+|six|seven|eight|nine|ten) marts published\b", text, re.I)
             if int(words.get(count.lower(), count) if not count.isdigit() else count) != len(marts())]
    assert not wrong, f"the docs count {wrong} marts; models/marts/ has {len(marts())}"


def command_flags(text: str) -> list[tuple[str, str]]:
    """(subcommand, --flag) for every `checkpoint.py <subcommand> ...` command line in the docs
    (backslash continuations joined; inline code and code blocks alike)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for match in re.finditer(r"checkpoint\.py\s+([a-z][a-z-]*)([^`\n]*)", joined):
        found += [(match.group(1), flag) for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", match.group(2))]
    return found


def test_every_runner_flag_is_documented_and_exists() -> None:
    flags = runner_flags()
    text = docs_text()
    unknown = sorted({f"{sub} {flag}" for sub, flag in command_flags(text)
                      if sub in flags and flag not in flags[sub] and flag != "--help"})
    assert not unknown, f"the docs give runner flags the runner does not have: {unknown}"
    bad_subcommands = sorted({sub for sub, _ in command_flags(text) if sub not in flags})
    assert not bad_subcommands, f"the docs run subcommands the runner does not have: {bad_subcommands}"
    for sub, options in flags.items():
        if sub:
            table = reference_table(f"### `{sub}`")
            assert set(table) == options, (f"docs/settings.md, {sub}: missing {sorted(options - set(table))}, "
                                           f"not flags {sorted(set(table) - options)}")


def test_the_readers_find_what_a_doc_names() -> None:
    """The doc-side readers see a flag in a continued command line, a var in a table, a `--vars`
    example (not the time inside its quotes) and a `--var` flag: a wrong name there is caught."""
    text = ("```sh\n.venv/bin/python scripts/checkpoint.py run --as-of 2026-03-01T00:00:00Z \\\n"
            "    --no-such-flag\n```\n`scripts/checkpoint.py mapping-impact --base HEAD`\n\n"
            "| var | default | meaning |\n|---|---|---|\n| `as_of` | now | x |\n| `<role>_shapes` | g | y |\n\n"
            "dbt build --vars '{as_of: \"2026-03-01T00:00:00Z\", not_a_var: 1}' and --var other_var=2\n")
    assert command_flags(text) == [("run", "--as-of"), ("run", "--no-such-flag"), ("mapping-impact", "--base")]
    assert documented_vars(text) == {"as_of", "storefront_shapes", "processor_shapes", "erp_shapes", "not_a_var",
                                     "other_var"}


SHARED_SPEC = PROJECT_DIR.parent / "shared" / "spec"


def test_the_spec_copies_keep_every_line_of_the_shared_spec() -> None:
    """docs/spec/ is the shared specification with the project's additions: no
    line of the shared spec (a section, a column, a rule) is left out of the copy.
    Where the shared spec is not beside the project (a clone on its own), the
    copy is all there is to compare."""
    if not SHARED_SPEC.is_dir():
        import pytest  # noqa: PLC0415

        pytest.skip(f"no shared specification at {SHARED_SPEC}")
    missing = []
    for shared in sorted(SHARED_SPEC.glob("*.md")):
        copy = PROJECT_DIR / "docs" / "spec" / shared.name
        assert copy.is_file(), f"docs/spec/{shared.name} is missing"
        lines = set(copy.read_text(encoding="utf-8").splitlines())
        missing += [f"{shared.name}: {line}" for line in shared.read_text(encoding="utf-8").splitlines()
                    if line.strip() and line not in lines and not line.startswith("|")]
    assert not missing, "lines of the shared spec the project's copy lacks:\n" + "\n".join(missing)
