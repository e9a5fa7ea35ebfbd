"""The README's Python quick start and cross-language example run as written (with
unique names) and print what the README says."""

import re
import subprocess
import sys

from conftest import ROOT, lib_dir


def blocks(after):
    text = (ROOT / "README.md").read_text()
    rest = text[text.index(after):]
    return {lang: re.search(rf"```{lang}(?: [^\n]*)?\n(.*?)```", rest, re.S).group(1)
            for lang in ("c", "python")}


def test_quick_start_counts_exactly(tmp_path):
    code = blocks("## Python quick start")["python"]
    script = tmp_path / "quick.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.stdout.split() == ["40000"], out


def test_cross_language_example_counts_exactly(tmp_path, cprog, uname):
    b = blocks("**Cross-language example.**")
    c = b["c"].replace("jobs-", uname + "-")
    py = b["python"].replace("jobs-", uname + "-")
    (tmp_path / "worker.c").write_text(c)
    lib = lib_dir()
    subprocess.run(["cc", "-I", str(ROOT / "include"), "worker.c", "-L", str(lib), "-lmpsync",
                    f"-Wl,-rpath,{lib}", "-o", "worker"], cwd=tmp_path, check=True)
    (tmp_path / "main.py").write_text(py)
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.stdout.split() == ["200000"], out
