"""Tests of scripts/check_deps.py: its parsers on fixed strings, the whole check on a small
hand-made Ninja build, and the real build directory with a package planted missing.

    python3 -m pytest -q scripts/check_deps_test.py

The real build is $CONVGUARD_BUILD_DIR or build/; those tests skip, saying why, where there is none.
"""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPT = os.path.join(HERE, "check_deps.py")
PACKAGES = os.path.join(HERE, "packages.txt")
sys.path.insert(0, HERE)

import check_deps as cd  # noqa: E402


def run_check(*args):
    r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, cwd=ROOT)
    return r.returncode, r.stdout + r.stderr


# --- the package list ----------------------------------------------------------------------------

def test_package_list_groups_and_comments():
    text = "# c\ncmake  # the build\n\nlibfmt-dev\n[test]\npython3\n[docs]\n# none\n"
    assert cd.parse_package_list(text) == {"": ["cmake", "libfmt-dev"], "test": ["python3"], "docs": []}


def test_package_list_refuses_two_names_on_a_line():
    with pytest.raises(cd.CheckError, match="line 1"):
        cd.parse_package_list("cmake ninja-build\n")


def test_the_real_list_has_the_opencl_loader_in_its_base():
    with open(PACKAGES) as f:
        groups = cd.parse_package_list(f.read())
    assert "ocl-icd-opencl-dev" in groups[""]
    assert "libdnnl-dev" in groups[""]
    assert "test" in groups


def test_read_package_list_unknown_group(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("cmake\n[test]\npython3\n")
    assert cd.read_package_list(str(p), []) == ["cmake"]
    assert cd.read_package_list(str(p), ["test"]) == ["cmake", "python3"]
    with pytest.raises(cd.CheckError, match=r"no group \[gpu\]"):
        cd.read_package_list(str(p), ["gpu"])


# --- relations: Depends, alternatives, virtual packages ------------------------------------------

def test_relation_field_versions_alternatives_and_qualifiers():
    assert cd.parse_relation_field(
        "libc6 (>= 2.34), libgcc-s1 (>= 3.0) | libgcc1, python3:any (>= 3.9~), foo [amd64] <!nocheck>") == [
        ["libc6"], ["libgcc-s1", "libgcc1"], ["python3"], ["foo"]]
    assert cd.parse_relation_field("") == []
    assert cd.parse_relation_field("a|b|c") == [["a", "b", "c"]]


def test_dpkg_query_lines_keep_installed_packages_only():
    out = ("g++\tinstall ok installed\tno\toptional\tc++-compiler, g++-x86-64-linux-gnu (= 4:12.2.0-3)\t"
           "cpp (= 4:12.2.0-3), g++-12 (>= 12.2.0-1~)\t\n"
           "dpkg\tinstall ok installed\tyes\trequired\t\ttar (>= 1.28-1)\tlibc6 (>= 2.34), liblzma5\n"
           "gone\tdeinstall ok config-files\tno\toptional\t\tx\t\n"
           "broken line\n")
    pkgs = {p.name: p for p in cd.parse_dpkg_query(out)}
    assert set(pkgs) == {"g++", "dpkg"}
    assert pkgs["g++"].provides == ["c++-compiler", "g++-x86-64-linux-gnu"]
    assert pkgs["dpkg"].essential and pkgs["dpkg"].priority == "required"
    assert pkgs["dpkg"].depends == [["tar"], ["libc6"], ["liblzma5"]]  # Pre-Depends count too


def db_of(**rels):
    """rels: name -> (Depends string, Provides string, Essential yes/no, Priority)."""
    pkgs = []
    for name, (dep, prov, *rest) in rels.items():
        name = name.replace("_", "-")
        essential, priority = (rest + ["no", "optional"])[:2] if rest else ("no", "optional")
        pkgs.append(cd.Package(name, essential == "yes", priority,
                               [g[0] for g in cd.parse_relation_field(prov)], cd.parse_relation_field(dep)))
    return cd.PackageDb.build(pkgs)


def test_closure_follows_depends_recursively_and_survives_cycles():
    db = db_of(a=("b (>= 1), c", ""), b=("d", ""), c=("a", ""), d=("", ""), e=("", ""))
    assert set(db.closure(["a"])) == {"a", "b", "c", "d"}
    assert db.closure(["a"])["d"] == "a"  # remembers which listed package brought it


def test_closure_alternatives_take_the_first_installed_one():
    # x | y: both installed, apt takes x; y is not brought.  p | q with p not installed: q.
    db = db_of(top=("x | y, p | q", ""), x=("", ""), y=("", ""), q=("", ""))
    assert set(db.closure(["top"])) == {"top", "x", "q"}


def test_closure_alternative_already_brought_counts():
    # y is listed itself, so top's x | y is satisfied by y and x is not brought.
    db = db_of(top=("x | y", ""), x=("", ""), y=("", ""))
    assert set(db.closure(["y", "top"])) == {"top", "y"}


def test_closure_virtual_packages_through_provides():
    db = db_of(g_plus_plus=("c-compiler", ""), gcc=("", "c-compiler, cc"), other=("", ""))
    assert set(db.closure(["g-plus-plus"])) == {"g-plus-plus", "gcc"}
    assert db.resolve("cc") == ["gcc"]
    assert db.resolve("nothing") == []


def test_baseline_is_essential_or_required():
    db = db_of(bash=("", "", "yes", "required"), mawk=("", "", "no", "required"),
               libc6=("", "", "no", "optional"), nano=("", "", "no", "important"))
    assert db.baseline() == ["bash", "mawk"]


# --- file ownership ------------------------------------------------------------------------------

def test_usrmerge_twins():
    assert cd.usrmerge_twin("/lib/x86_64-linux-gnu/libc.so.6") == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert cd.usrmerge_twin("/usr/lib64/ld-linux-x86-64.so.2") == "/lib64/ld-linux-x86-64.so.2"
    assert cd.usrmerge_twin("/usr/bin/ninja") == "/bin/ninja"
    assert cd.usrmerge_twin("/usr/include/stdio.h") is None
    assert cd.usrmerge_twin("/library/x") is None


def test_dpkg_search_output():
    out = ("libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6\n"
           "libfoo:amd64, libfoo:i386: /usr/share/doc/libfoo/copyright\n"
           "diversion by dash from: /bin/sh\n"
           "diversion by dash to: /bin/sh.distrib\n"
           "dash: /bin/sh\n")
    assert cd.parse_dpkg_search(out) == {
        "/lib/x86_64-linux-gnu/libc.so.6": ["libc6"],
        "/usr/share/doc/libfoo/copyright": ["libfoo"],
        "/bin/sh": ["dash"]}


def test_glob_characters_are_escaped_for_dpkg():
    assert cd.dpkg_pattern("/b/x[1]_tests.cmake") == r"/b/x\[1\]_tests.cmake"
    assert cd.dpkg_pattern("/usr/include/stdio.h") == "/usr/include/stdio.h"


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="no dpkg here")
def test_owner_found_through_the_usr_merge_and_links():
    paths = [p for p in ("/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                         "/bin/bash") if os.path.exists(p)]
    if not paths:
        pytest.skip("no libstdc++ or bash at the usual paths")
    owners = cd.find_owners(paths + ["/nonexistent/file.h"])
    for p in paths:
        assert owners.get(p), p
    assert "/nonexistent/file.h" not in owners


# --- what the build used: parsers ----------------------------------------------------------------

def test_ninja_deps_output():
    out = ("CMakeFiles/m.dir/src/a.cc.o: #deps 3, deps mtime 1 (VALID)\n"
           "    /work/src/a.cc\n    /usr/include/stdio.h\n\n"
           "CMakeFiles/m.dir/src/b.cc.o: #deps 2, deps mtime 2 (STALE)\n"
           "    ../src/b.cc\n    /usr/include/stdio.h\n")
    assert cd.parse_ninja_deps(out) == {"/work/src/a.cc": "CMakeFiles/m.dir/src/a.cc.o",
                                        "/usr/include/stdio.h": "CMakeFiles/m.dir/src/a.cc.o",
                                        "../src/b.cc": "CMakeFiles/m.dir/src/b.cc.o"}


BUILD_NINJA = """\
build cg: CXX_EXECUTABLE_LINKER__cg_RelWithDebInfo CMakeFiles/cg.dir/main.cc.o | libm.a $
    /usr/lib/x86_64-linux-gnu/libfmt.so.9.1.0
  FLAGS = -O2
  LINK_LIBRARIES = -Wl,-rpath,/usr/local/cuda/lib  libm.a  /usr/lib/x86_64-linux-gnu/libfmt.so.9.1.0  -ldl  -lpthread
  LINK_PATH = -L/usr/local/cuda/targets/x86_64-linux/lib
  TARGET_FILE = cg

build x$ test x$ test[1]_tests.cmake: CXX_EXECUTABLE_LINKER__t CMakeFiles/t.dir/t.cc.o
  LINK_LIBRARIES = /usr/lib/x86_64-linux-gnu/libgtest.a

build libm.a: CXX_STATIC_LIBRARY_LINKER__m CMakeFiles/m.dir/a.cc.o
  LINK_LIBRARIES = /should/not/count.a

build build.ninja: RERUN_CMAKE | /usr/share/cmake/CLI11/CLI11Config.cmake /src/CMakeLists.txt $
    CMakeCache.txt
  pool = console
"""


def test_build_ninja_link_lines_executables_and_configure_inputs():
    f = cd.parse_build_ninja(BUILD_NINJA)
    assert f.executables == ["cg", "x test"]
    assert f.link_files == {"/usr/lib/x86_64-linux-gnu/libfmt.so.9.1.0": "cg",
                            "/usr/lib/x86_64-linux-gnu/libgtest.a": "x test"}
    assert f.link_names == {"dl": "cg", "pthread": "cg"}
    assert f.link_dirs == ["/usr/local/cuda/targets/x86_64-linux/lib"]
    assert f.cmake_inputs == ["/usr/share/cmake/CLI11/CLI11Config.cmake", "/src/CMakeLists.txt", "CMakeCache.txt"]


def test_cmake_cache_entries():
    text = ("# comment\n//doc\nfmt_DIR:PATH=/usr/lib/x86_64-linux-gnu/cmake/fmt\n"
            "SQLite3_LIBRARY:FILEPATH=/usr/lib/x86_64-linux-gnu/libsqlite3.so\n"
            "X:BOOL=ON\nCMAKE_COMMAND:INTERNAL=/usr/bin/cmake\n")
    c = cd.parse_cmake_cache(text)
    assert c["fmt_DIR"] == ("PATH", "/usr/lib/x86_64-linux-gnu/cmake/fmt")
    assert c["SQLite3_LIBRARY"] == ("FILEPATH", "/usr/lib/x86_64-linux-gnu/libsqlite3.so")
    assert c["CMAKE_COMMAND"] == ("INTERNAL", "/usr/bin/cmake")


def test_ldd_output():
    out = ("/b/cg:\n\tlinux-vdso.so.1 (0x00007ffd)\n"
           "\tlibfmt.so.9 => /lib/x86_64-linux-gnu/libfmt.so.9 (0x00007f01)\n"
           "\tlibcudnn.so.9 => not found\n"
           "\t/lib64/ld-linux-x86-64.so.2 (0x00007f02)\n"
           "/b/t:\n\tlibfmt.so.9 => /lib/x86_64-linux-gnu/libfmt.so.9 (0x00007f01)\n")
    assert cd.parse_ldd(out) == {"/lib/x86_64-linux-gnu/libfmt.so.9": "/b/cg",
                                 "libcudnn.so.9 => not found": "/b/cg",
                                 "/lib64/ld-linux-x86-64.so.2": "/b/cg"}


# --- the whole check on a hand-made build --------------------------------------------------------

needs_debian_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dpkg-query", "ninja", "ldd")) or not os.path.exists("/usr/bin/ninja"),
    reason="needs dpkg-query, ldd and Debian's ninja-build")


def fake_build(tmp_path, files):
    b = tmp_path / "build"
    b.mkdir()
    (b / "build.ninja").write_text(
        "rule RERUN_CMAKE\n  command = true\n"
        "build build.ninja: RERUN_CMAKE | " + " ".join(files) + "\n")
    return str(b)


@needs_debian_tools
def test_fake_build_essential_counts_and_a_missing_package_is_named(tmp_path):
    # /usr/bin/dpkg: dpkg is Essential on every Debian machine; /usr/bin/ninja: ninja-build is not.
    b = fake_build(tmp_path, ["/usr/bin/dpkg", "/usr/bin/ninja"])
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    rc, out = run_check("--packages", str(empty), "--build-dir", b, "--source-dir", str(tmp_path))
    assert rc == 1, out
    assert "MISSING ninja-build" in out and "/usr/bin/ninja" in out
    assert "dpkg" not in out.split("MISSING", 1)[1]
    just = tmp_path / "ninja.txt"
    just.write_text("ninja-build\n")
    rc, out = run_check("--packages", str(just), "--build-dir", b, "--source-dir", str(tmp_path))
    assert rc == 0, out


@needs_debian_tools
def test_fake_build_unowned_file_outside_allowed_prefixes_fails(tmp_path):
    stray = tmp_path / "elsewhere" / "stray.cmake"
    stray.parent.mkdir()
    stray.write_text("")
    src = tmp_path / "src"
    src.mkdir()
    b = fake_build(tmp_path, [str(stray)])
    lst = tmp_path / "l.txt"
    lst.write_text("")
    rc, out = run_check("--packages", str(lst), "--build-dir", b, "--source-dir", str(src))
    assert rc == 1, out
    assert f"{stray} (cmake file, configure) is not from a Debian package" in out
    rc, out = run_check("--packages", str(lst), "--build-dir", b, "--source-dir", str(src),
                        "--allow", str(stray.parent))
    assert rc == 0, out
    assert f"1 files under {stray.parent}: not from a Debian package (allowed)" in out


# --- the real build ------------------------------------------------------------------------------

REAL_BUILD = os.path.abspath(os.environ.get("CONVGUARD_BUILD_DIR") or os.path.join(ROOT, "build"))


def real_build():
    if not os.path.isfile(os.path.join(REAL_BUILD, "build.ninja")):
        pytest.skip(f"no build directory at {REAL_BUILD} (run scripts/build.sh, or set CONVGUARD_BUILD_DIR)")
    if not os.path.isfile(os.path.join(REAL_BUILD, ".ninja_deps")):
        pytest.skip(f"{REAL_BUILD} has compiled nothing yet (no .ninja_deps)")
    if not all(shutil.which(t) for t in ("dpkg-query", "ninja", "ldd")):
        pytest.skip("needs dpkg-query, ninja and ldd")
    return REAL_BUILD


def test_real_build_passes_with_the_full_list():
    b = real_build()
    rc, out = run_check("--packages", PACKAGES, "--build-dir", b)
    assert rc == 0, out
    assert "check_deps: OK" in out


def test_real_build_fails_naming_file_and_package_when_libfmt_dev_is_left_out(tmp_path):
    b = real_build()
    with open(PACKAGES) as f:
        lines = [l for l in f.read().splitlines() if l.split("#")[0].strip() != "libfmt-dev"]
    assert len(lines) < len(open(PACKAGES).read().splitlines()), "libfmt-dev is no longer in the list"
    planted = tmp_path / "packages.txt"
    planted.write_text("\n".join(lines) + "\n")
    rc, out = run_check("--packages", str(planted), "--build-dir", b)
    assert rc == 1, out
    assert "MISSING libfmt-dev: not in" in out, out
    assert "/usr/include/fmt/" in out, out  # a header the build included, by name
    assert "FAILED" in out


def test_real_build_fails_without_the_opencl_loader(tmp_path):
    """Issue 10: dnnl-config.cmake needs OpenCL, which libdnnl-dev only recommends."""
    b = real_build()
    with open(PACKAGES) as f:
        lines = [l for l in f.read().splitlines() if l.split("#")[0].strip() != "ocl-icd-opencl-dev"]
    planted = tmp_path / "packages.txt"
    planted.write_text("\n".join(lines) + "\n")
    rc, out = run_check("--packages", str(planted), "--build-dir", b)
    assert rc == 1, out
    assert "MISSING ocl-icd-opencl-dev" in out and "libOpenCL.so" in out, out
