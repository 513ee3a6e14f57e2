"""The man pages and the bash completion say what `--help` and the config reference say: each option and
key has one home (parser.py, config/model.py + peer.py), and these fail when a page drifts from it."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tapliance.cli import build_parser
from tapliance.cli.completion import bash
from tapliance.cli.man import main as man_main
from tapliance.cli.man import tapliance_8, tapliance_toml_5
from tapliance.config.reference import rows

COMMANDS = ["genkey", "pubkey", "up", "check-config", "status", "pad", "net", "import", "reload", "peer"]
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def help_text(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return out.getvalue()


def help_options(cmd: str) -> set[str]:
    """The options `tapliance CMD --help` lists in its options section."""
    text = help_text(cmd).split("options:", 1)[1]
    found = set()
    for line in text.splitlines():
        m = re.match(r"^  (-[^ ].*?)(?:  |$)", line)
        if m:
            found |= {o for o in OPTION.findall(m.group(1)) if o.upper() != o or o.startswith("--")}
    return found - {"-h", "--help"}


def plain(roff: str) -> str:
    return re.sub(r"\\f[BIR]", "", roff).replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")


def man_sections(page: str) -> dict[str, str]:
    """tapliance.8's COMMANDS: {command: the text of its .SS subsection}, roff undone."""
    body = page.split(".SH COMMANDS", 1)[1].split("\n.SH ", 1)[0]
    out = {}
    for chunk in body.split('.SS "')[1:]:
        usage, _, text = chunk.partition("\n")
        out[plain(usage).split()[1]] = text
    return out


def man_options(section: str) -> set[str]:
    """The options a command's subsection documents: the labels of its .TP items."""
    lines = section.splitlines()
    labels = [lines[i + 1] for i, ln in enumerate(lines[:-1]) if ln == ".TP"]
    return {o for label in labels for o in OPTION.findall(plain(re.sub(r"\\fI.*?\\fR", "", label)))}


def test_every_command_has_a_section() -> None:
    assert list(man_sections(tapliance_8())) == COMMANDS


@pytest.mark.parametrize("cmd", COMMANDS)
def test_man_page_lists_the_same_options_as_help(cmd: str) -> None:
    section = man_sections(tapliance_8())[cmd]
    assert man_options(section) == help_options(cmd), f"tapliance.8 vs tapliance {cmd} --help"
    for line in help_text(cmd).split("options:", 1)[1].splitlines():  # and the same words for each
        m = re.match(r"^  -\S.*?  +(\S.*)$", line)
        if m and "show this help" not in m.group(1):
            assert m.group(1).split()[0] in plain(section), line


def test_help_options_of_a_known_command() -> None:
    assert help_options("status") == {"-c", "--config", "-s", "--socket", "--json", "--peer", "--watch", "--interval"}


def test_config_page_lists_every_key_of_the_reference() -> None:
    page = tapliance_toml_5()
    sections = re.split(r"^\.SH ", page, flags=re.M)
    listed = set()
    for s in sections:
        head, _, body = s.partition("\n")
        if head.startswith("["):
            names = re.findall(r"^\\fB([\w\\-]+)\\fR \(default:", body, re.M)
            listed |= {f"`{plain(head)} {plain(n)}`" for n in names}
    assert listed == {key for key, _, _ in rows()}
    for _, _, meaning in rows():
        assert plain(meaning.replace("`", "").replace("**", "")).split()[0] in plain(page)


def test_pages_are_valid_roff(tmp_path: Path) -> None:
    assert man_main([str(tmp_path)]) == 0
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff not installed")
    for name in ("tapliance.8", "tapliance.toml.5"):
        r = subprocess.run(
            [groff, "-man", "-ww", "-z", str(tmp_path / name)], capture_output=True, text=True, check=False
        )
        assert r.returncode == 0 and not r.stderr, r.stderr


def test_completion_offers_every_command_and_option(tmp_path: Path) -> None:
    script = bash()
    for cmd in COMMANDS:
        assert f"        {cmd})" in script
        for opt in help_options(cmd):
            assert re.search(rf"{cmd}\)\n +opts='[^']*(?<![\w-]){re.escape(opt)}(?![\w-])", script), (cmd, opt)
    f = tmp_path / "tapliance"
    f.write_text(script)
    assert subprocess.run(["bash", "-n", str(f)], check=False).returncode == 0


def test_config_page_example_is_a_valid_config() -> None:
    import tomllib

    from tapliance import keyfile
    from tapliance.cli.man import EXAMPLE
    from tapliance.config import parse

    key = keyfile.encode(keyfile.public_from_private(keyfile.generate_private()))
    cfg = parse(tomllib.loads(EXAMPLE.replace("<the peer's tapliance pubkey>", key)))
    assert cfg.interface.name == "tap0" and len(cfg.peers) == 1
