#!/usr/bin/env python3
"""Proves scripts/packages.txt against what a build really used.

    scripts/check_deps.py [--packages scripts/packages.txt] [--group NAME]... [--build-dir build]
                          [--source-dir .] [--allow PREFIX]... [-v]

It collects every file the build in BUILD_DIR (a Ninja build) used:
  - headers: the compilers' dependency files (`ninja -t deps`);
  - CMake files: every file the configure step read (the regeneration rule of build.ninja lists
    them: package config files, Find modules, the compiler checks), and the config files in each
    `<Pkg>_DIR` of CMakeCache.txt;
  - tools and libraries that configure found: the FILEPATH entries of CMakeCache.txt (compilers,
    binutils, ninja, find_library results) and cmake/ctest themselves;
  - libraries linked: the absolute paths and -l names on the link lines of build.ninja;
  - shared libraries loaded: `ldd` of every executable that was built.
It maps each file to the Debian package that owns it (one `dpkg-query -S` call for all, trying
the path as written, its realpath, and their /usr-merged twins: /lib vs /usr/lib and so on) and
fails (exit 1), naming the file and the package, when that package is not present on a fresh
machine that ran `scripts/install_deps.sh`, that is, when it is neither
  - listed in the base of the package list (or in a --group asked for),
  - a dependency of one listed there (Depends and Pre-Depends, recursively; for `a | b` the
    first alternative that is installed here, for a virtual package its installed providers),
  - nor on every Debian machine: Essential: yes or Priority: required (what debootstrap
    --variant=minbase installs), with their dependencies.
A file that no Debian package owns is "not from a Debian package": allowed under the build
directory, the source directory, /usr/local/cuda*, where pip installs for python3 (PyPI's
packages, e.g. PyTorch for the optional torch engine, and the python3 itself where the machine
image brings its own) and each --allow prefix, an error elsewhere.
Exit status: 0 every file accounted for, 1 some not, 2 the check could not run.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

DEFAULT_ALLOWED = ("/usr/local/cuda*",)


def pip_prefixes() -> list[str]:
    """Where python3 and the packages pip installs for it live: files there come from PyPI
    (or with the machine image's own python3), not from Debian."""
    import site
    out = [sys.prefix] + site.getsitepackages() + [site.getusersitepackages()]
    python3 = shutil.which("python3")
    if python3:
        out.append(os.path.dirname(python3))
    return [p for p in out if p and not p.startswith("/usr/lib") and p not in ("/usr", "/usr/bin")]


class CheckError(Exception):
    """The check could not run (exit 2)."""


# --- the package list --------------------------------------------------------------------------

def parse_package_list(text: str) -> dict[str, list[str]]:
    """Groups of packages from packages.txt text: '' is the base, then one per [group] header."""
    groups: dict[str, list[str]] = {"": []}
    current = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)\]", line)
        if m:
            current = m.group(1)
            groups.setdefault(current, [])
            continue
        if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]*", line):
            raise CheckError(f"line {number}: {raw.strip()!r} is not one Debian package name")
        groups[current].append(line)
    return groups


def read_package_list(path: str, wanted_groups: list[str]) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            groups = parse_package_list(f.read())
    except OSError as e:
        raise CheckError(f"cannot read the package list: {e}") from e
    names = list(groups[""])
    for g in wanted_groups:
        if g not in groups:
            raise CheckError(f"{path} has no group [{g}] (it has: {', '.join(sorted(k for k in groups if k))})")
        names += groups[g]
    return list(dict.fromkeys(names))


# --- Debian package relations ------------------------------------------------------------------

def parse_relation_field(value: str) -> list[list[str]]:
    """'a (>= 1) | b:any, c [amd64] <!nocheck>' -> [['a', 'b'], ['c']]: groups of alternatives,
    package names only (versions, architecture qualifiers and restrictions dropped)."""
    groups = []
    for part in value.split(","):
        alts = []
        for alt in part.split("|"):
            alt = re.sub(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>", " ", alt).strip()
            if not alt:
                continue
            name = alt.split()[0].split(":", 1)[0]
            alts.append(name)
        if alts:
            groups.append(alts)
    return groups


@dataclass
class Package:
    name: str
    essential: bool = False
    priority: str = ""
    provides: list[str] = field(default_factory=list)
    depends: list[list[str]] = field(default_factory=list)  # Depends and Pre-Depends


@dataclass
class PackageDb:
    packages: dict[str, Package]
    providers: dict[str, list[str]]  # virtual name -> installed packages that provide it

    @staticmethod
    def build(packages: list[Package]) -> "PackageDb":
        byname: dict[str, Package] = {}
        for p in packages:
            if p.name in byname:  # the same package for several architectures: merge
                q = byname[p.name]
                q.essential |= p.essential
                q.depends += p.depends
                q.provides += p.provides
            else:
                byname[p.name] = p
        providers: dict[str, list[str]] = {}
        for p in byname.values():
            for v in p.provides:
                providers.setdefault(v, []).append(p.name)
        return PackageDb(byname, providers)

    def resolve(self, name: str) -> list[str]:
        """Installed packages that satisfy `name`: itself if installed, else its providers."""
        if name in self.packages:
            return [name]
        return sorted(set(self.providers.get(name, [])))

    def baseline(self) -> list[str]:
        """Packages on every Debian machine: Essential: yes or Priority: required."""
        return sorted(n for n, p in self.packages.items() if p.essential or p.priority == "required")

    def closure(self, roots: list[str]) -> dict[str, str]:
        """Every package that installing `roots` brings, with the root that brought it.

        For a group of alternatives apt installs one: the first alternative already brought by
        another path counts, else the first that is installed here."""
        why: dict[str, str] = {}
        stack: list[tuple[str, str]] = []
        for r in roots:
            for n in self.resolve(r):
                if n not in why:
                    why[n] = r
                    stack.append((n, r))
        # Two passes over alternatives would be exact; choosing among installed ones in order
        # is what apt did on this machine, which is what the files we map came from.
        while stack:
            name, root = stack.pop()
            for alts in self.packages[name].depends:
                chosen: list[str] = []
                for a in alts:
                    sat = self.resolve(a)
                    if any(s in why for s in sat):
                        chosen = []
                        break
                    if sat and not chosen:
                        chosen = sat
                for n in chosen:
                    if n not in why:
                        why[n] = root
                        stack.append((n, root))
        return why


DPKG_FIELDS = ("${Package}", "${Status}", "${Essential}", "${Priority}", "${Provides}",
               "${Depends}", "${Pre-Depends}")


def parse_dpkg_query(output: str) -> list[Package]:
    """Lines of dpkg-query -W -f with DPKG_FIELDS separated by tabs; installed packages only."""
    result = []
    for line in output.splitlines():
        cols = line.split("\t")
        if len(cols) != len(DPKG_FIELDS):
            continue
        name, status, essential, priority, provides, depends, predepends = cols
        if not status.endswith(" installed"):
            continue
        result.append(Package(
            name=name, essential=essential.strip() == "yes", priority=priority.strip(),
            provides=[g[0] for g in parse_relation_field(provides)],
            depends=parse_relation_field(depends) + parse_relation_field(predepends)))
    return result


def load_package_db() -> PackageDb:
    out = run(["dpkg-query", "-W", "-f", "\t".join(DPKG_FIELDS) + "\n"])
    return PackageDb.build(parse_dpkg_query(out))


# --- file ownership ------------------------------------------------------------------------------

MERGED = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def usrmerge_twin(path: str) -> str | None:
    """/lib/x.so <-> /usr/lib/x.so (and /bin, /sbin, /lib64...): the same file on a /usr-merged system."""
    for d in MERGED:
        if path.startswith(d + "/"):
            return "/usr" + path
        if path.startswith("/usr" + d + "/"):
            return path[len("/usr"):]
    return None


def candidates(path: str) -> list[str]:
    """The names under which dpkg may have recorded `path`."""
    out = [path]
    real = os.path.realpath(path)
    out.append(real)
    for p in (path, real):
        t = usrmerge_twin(p)
        if t:
            out.append(t)
    # A link's directory resolved but not the file itself (dpkg records links by their own name).
    d = os.path.realpath(os.path.dirname(path))
    out.append(os.path.join(d, os.path.basename(path)))
    t = usrmerge_twin(out[-1])
    if t:
        out.append(t)
    return list(dict.fromkeys(out))


def dpkg_pattern(path: str) -> str:
    """dpkg-query -S takes glob patterns; a path with glob characters is escaped."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def parse_dpkg_search(output: str) -> dict[str, list[str]]:
    """'pkg1:amd64, pkg2: /path' lines -> {'/path': ['pkg1', 'pkg2']} (diversions skipped)."""
    owners: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith(("diversion by ", "local diversion ")):
            continue
        pkgs, sep, path = line.partition(": ")
        if not sep or not path.startswith("/"):
            continue
        names = [p.strip().split(":", 1)[0] for p in pkgs.split(",") if p.strip()]
        known = owners.setdefault(path, [])
        for n in names:
            if n not in known:
                known.append(n)
    return owners


def find_owners(paths: list[str]) -> dict[str, list[str]]:
    """{path: [packages]} for every path a package owns, under any of its candidate names."""
    cands = {p: candidates(p) for p in paths}
    queries = list(dict.fromkeys(c for cs in cands.values() for c in cs))
    found: dict[str, list[str]] = {}
    for i in range(0, len(queries), 2000):  # far below the argument-length limit
        chunk = queries[i:i + 2000]
        r = subprocess.run(["dpkg-query", "-S", *[dpkg_pattern(q) for q in chunk]],
                           capture_output=True, text=True)
        if r.returncode not in (0, 1):
            raise CheckError(f"dpkg-query -S failed: {r.stderr.strip()[:500]}")
        found.update(parse_dpkg_search(r.stdout))
    owners = {}
    for p, cs in cands.items():
        for c in cs:
            if found.get(c):
                owners[p] = found[c]
                break
    return owners


# --- what the build used -------------------------------------------------------------------------

def run(cmd: list[str], cwd: str | None = None) -> str:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise CheckError(f"{cmd[0]} not found: {e}") from e
    if r.returncode != 0:
        raise CheckError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return r.stdout


def parse_ninja_deps(output: str) -> dict[str, str]:
    """`ninja -t deps` -> {file: the first output that depends on it}."""
    files: dict[str, str] = {}
    target = ""
    for line in output.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            target = line.split(": #deps", 1)[0]
            continue
        files.setdefault(line.strip(), target)
    return files


def ninja_unescape_split(s: str) -> list[str]:
    """Splits a build.ninja path list on unescaped spaces; `$ ` `$:` `$$` unescaped."""
    out, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "$" and i + 1 < len(s):
            cur.append(s[i + 1])
            i += 2
            continue
        if c == " ":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        out.append("".join(cur))
    return out


@dataclass
class NinjaFacts:
    cmake_inputs: list[str] = field(default_factory=list)
    executables: list[str] = field(default_factory=list)
    link_files: dict[str, str] = field(default_factory=dict)  # path -> executable or library
    link_names: dict[str, str] = field(default_factory=dict)  # -lNAME -> executable
    link_dirs: list[str] = field(default_factory=list)


def parse_build_ninja(text: str) -> NinjaFacts:
    facts = NinjaFacts()
    text = text.replace("$\n", "")  # line continuations
    current = None
    for line in text.splitlines():
        if line.startswith("build "):
            head = line[len("build "):]
            # outputs ':' rule inputs... ('$:' is an escaped colon)
            m = re.match(r"((?:[^:$]|\$.)*):\s*(\S+)\s*(.*)", head)
            if not m:
                current = None
                continue
            outputs, rule, rest = m.groups()
            current = None
            if rule == "RERUN_CMAKE":
                deps = rest.split("|", 1)[1] if "|" in rest else rest
                deps = deps.split("||", 1)[0]
                facts.cmake_inputs += ninja_unescape_split(deps)
            elif re.match(r"[A-Z]+_EXECUTABLE_LINKER|[A-Z]+_SHARED_LIBRARY_LINKER|[A-Z]+_MODULE_LIBRARY_LINKER", rule):
                outs = ninja_unescape_split(outputs.split("|", 1)[0])
                if outs:
                    current = outs[0]
                    if "EXECUTABLE" in rule or "SHARED" in rule:
                        facts.executables.append(current)
            continue
        if current and line.startswith("  "):
            key, _, value = line.strip().partition(" = ")
            if key == "LINK_LIBRARIES":
                for tok in value.split():
                    if tok.startswith("-Wl,"):
                        continue
                    if tok.startswith("-l") and len(tok) > 2:
                        facts.link_names.setdefault(tok[2:], current)
                    elif tok.startswith("/"):
                        facts.link_files.setdefault(tok, current)
            elif key == "LINK_PATH":
                facts.link_dirs += [t[2:] for t in value.split() if t.startswith("-L")]
        elif not line.startswith(" "):
            current = None
    facts.link_dirs = list(dict.fromkeys(facts.link_dirs))
    return facts


def parse_cmake_cache(text: str) -> dict[str, tuple[str, str]]:
    """CMakeCache.txt -> {NAME: (TYPE, value)}."""
    entries = {}
    for line in text.splitlines():
        if not line or line.startswith(("#", "//")):
            continue
        m = re.match(r"([^:=]+):([A-Z]+)=(.*)", line)
        if m:
            entries[m.group(1)] = (m.group(2), m.group(3))
    return entries


def parse_ldd(output: str) -> dict[str, str]:
    """`ldd a b` -> {library path or 'NAME => not found': executable}."""
    libs: dict[str, str] = {}
    exe = ""
    for line in output.splitlines():
        if not line.startswith(("\t", " ")) and line.endswith(":"):
            exe = line[:-1]
            continue
        s = line.strip()
        if "=> not found" in s:
            libs.setdefault(s.split()[0] + " => not found", exe)
            continue
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", s)
        if m:
            libs.setdefault(m.group(1), exe)
    return libs


def compiler_search_dirs(compiler: str) -> list[str]:
    try:
        out = run([compiler, "-print-search-dirs"])
    except CheckError:
        return []
    for line in out.splitlines():
        if line.startswith("libraries: ="):
            return [os.path.normpath(d) for d in line[len("libraries: ="):].split(":") if d]
    return []


def resolve_link_name(name: str, dirs: list[str]) -> str | None:
    for d in dirs:
        for suffix in (".so", ".a"):
            p = os.path.join(d, f"lib{name}{suffix}")
            if os.path.exists(p):
                return p
    return None


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


@dataclass
class Used:
    """Files the build used: path -> (kind, what used it)."""
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, path: str, kind: str, by: str) -> None:
        self.files.setdefault(path, (kind, by))


def collect(build: str) -> Used:
    used = Used()
    if not os.path.isfile(os.path.join(build, "build.ninja")):
        raise CheckError(f"{build} is not a Ninja build directory (no build.ninja): run scripts/build.sh first")

    def absolute(p: str) -> str:
        return os.path.normpath(p if os.path.isabs(p) else os.path.join(build, p))

    # Headers, from the compilers' dependency files.
    for f, target in parse_ninja_deps(run(["ninja", "-C", build, "-t", "deps"])).items():
        used.add(absolute(f), "header", target)

    with open(os.path.join(build, "build.ninja"), encoding="utf-8", errors="replace") as f:
        facts = parse_build_ninja(f.read())
    cache = {}
    cache_path = os.path.join(build, "CMakeCache.txt")
    if os.path.isfile(cache_path):
        with open(cache_path, encoding="utf-8", errors="replace") as f:
            cache = parse_cmake_cache(f.read())

    # Libraries on the link lines.
    for f, exe in facts.link_files.items():
        used.add(os.path.normpath(f), "linked", exe)
    if facts.link_names:
        compiler = cache.get("CMAKE_CXX_COMPILER", ("", "c++"))[1] or "c++"
        dirs = facts.link_dirs + compiler_search_dirs(compiler)
        for name, exe in facts.link_names.items():
            p = resolve_link_name(name, dirs)
            if p:
                used.add(os.path.normpath(p), f"linked as -l{name}", exe)
            else:
                used.notes.append(f"-l{name} (linked into {exe}) is in none of the linker's directories here")

    # Shared libraries the built executables load.
    exes = [absolute(e) for e in facts.executables]
    built = [e for e in exes if os.path.isfile(e) and is_elf(e)]
    if built:
        r = subprocess.run(["ldd", *built], capture_output=True, text=True)
        out = r.stdout if len(built) > 1 else f"{built[0]}:\n{r.stdout}"
        for lib, exe in parse_ldd(out).items():
            if lib.endswith("=> not found"):
                used.errors.append(f"{os.path.relpath(exe, build)} needs {lib.split()[0]}, which the loader does not find")
            else:
                used.add(os.path.normpath(lib), "loaded", os.path.relpath(exe, build))

    # CMake files: what configure read, and the config files of each package it found.
    for f in facts.cmake_inputs:
        used.add(absolute(f), "cmake file", "configure")

    # Tools and libraries configure found (compilers, binutils, ninja, find_library results).
    for name, (typ, value) in cache.items():
        if name.endswith("_DIR") and typ == "PATH" and os.path.isdir(value):
            for entry in sorted(os.listdir(value)):
                p = os.path.join(value, entry)
                if entry.endswith(".cmake") and os.path.isfile(p):
                    used.add(os.path.normpath(p), "cmake file", name)
        elif typ == "FILEPATH" and value.startswith("/") and os.path.isfile(value):
            used.add(os.path.normpath(value), "found by configure", name)
    for name in ("CMAKE_COMMAND", "CMAKE_CTEST_COMMAND"):
        if name in cache and os.path.isfile(cache[name][1]):
            used.add(cache[name][1], "tool", name)

    used.notes.append(f"{len(built)} of {len(exes)} executables in build.ninja are built (ldd on those)")
    return used


# --- the verdict ---------------------------------------------------------------------------------

def under(path: str, prefix: str) -> bool:
    if prefix.endswith("*"):
        return path.startswith(prefix[:-1])
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def check(package_list: str, groups: list[str], build: str, source: str, allowed: list[str],
          verbose: bool = False, out=sys.stdout) -> int:
    t0 = time.monotonic()
    build = os.path.abspath(build)
    source = os.path.abspath(source)
    listed = read_package_list(package_list, groups)
    used = collect(build)
    db = load_package_db()

    problems: list[str] = list(used.errors)
    not_installed = [p for p in listed if not db.resolve(p)]
    for p in not_installed:
        problems.append(f"{p} is listed in {package_list} but not installed here: run scripts/install_deps.sh first")

    own_trees = [build, source, os.path.realpath(build), os.path.realpath(source)]
    local, foreign = [], []
    for p in used.files:
        (local if any(under(p, t) or under(os.path.realpath(p), t) for t in own_trees) else foreign).append(p)
    missing_files = [p for p in foreign if not os.path.exists(p)]
    foreign = [p for p in foreign if os.path.exists(p)]
    owners = find_owners(foreign)

    present = db.closure(listed)
    base = db.closure(db.baseline())

    allowed_unowned: dict[str, int] = {}
    missing: dict[str, list[str]] = {}
    packages_used: set[str] = set()
    for p in sorted(foreign):
        kind, by = used.files[p]
        pkgs = owners.get(p)
        if not pkgs:
            prefix = next((a for a in allowed if under(p, a) or under(os.path.realpath(p), a)), None)
            if prefix:
                allowed_unowned[prefix] = allowed_unowned.get(prefix, 0) + 1
            else:
                problems.append(f"{p} ({kind}, {by}) is not from a Debian package and not under an allowed "
                                f"prefix ({', '.join(allowed)}; add one with --allow)")
            continue
        packages_used.update(pkgs)
        if any(q in present or q in base for q in pkgs):
            continue
        missing.setdefault(" or ".join(pkgs), []).append(p)

    for pkg, files in sorted(missing.items()):
        shown = files if verbose else files[:3]
        lines = [f"{f} ({used.files[f][0]}, {used.files[f][1]})" for f in shown]
        more = f"\n      ... and {len(files) - len(shown)} more (-v lists them)" if len(files) > len(shown) else ""
        problems.append(f"{pkg}: not in {package_list} nor pulled in by a package in it, "
                        f"but the build used {len(files)} file(s) from it:\n      " + "\n      ".join(lines) + more)

    seconds = time.monotonic() - t0
    kinds: dict[str, int] = {}
    for p in foreign:
        k = used.files[p][0].split(" as ")[0]
        kinds[k] = kinds.get(k, 0) + 1
    w = out.write
    w(f"check_deps: {len(used.files)} files the build in {build} used: {len(local)} from the build and "
      f"source trees, {len(foreign)} outside them ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})\n")
    w(f"check_deps: {len(packages_used)} Debian packages own them; {len(listed)} listed "
      f"({', '.join(['base'] + groups)}) bring {len(present)} packages, every Debian machine has {len(base)}\n")
    for prefix, n in sorted(allowed_unowned.items()):
        w(f"check_deps: {n} files under {prefix}: not from a Debian package (allowed)\n")
    if missing_files:
        w(f"check_deps: {len(missing_files)} files recorded by the build no longer exist (ignored), e.g. {missing_files[0]}\n")
    for n in used.notes:
        w(f"check_deps: {n}\n")
    if verbose:
        for p in sorted(foreign):
            pk = owners.get(p)
            via = "" if not pk else next((f" (via {present[q]})" for q in pk if q in present),
                                         " (on every Debian machine)" if any(q in base for q in pk) else "")
            w(f"  {p}: {', '.join(pk) if pk else 'no Debian package'}{via}\n")
    if problems:
        for p in problems:
            w(f"check_deps: MISSING {p}\n")
        w(f"check_deps: FAILED: {len(problems)} problem(s) ({seconds:.1f} s)\n")
        return 1
    w(f"check_deps: OK: every file is from a package that {package_list} installs "
      f"or every Debian machine has ({seconds:.1f} s)\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", default=os.path.join(here, "packages.txt"),
                    help="the package list (default: scripts/packages.txt)")
    ap.add_argument("--group", action="append", default=[],
                    help="also count this optional group of the list (default: the base only)")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", os.path.join(root, "build")),
                    help="a Ninja build directory (default: $BUILD_DIR or build/)")
    ap.add_argument("--source-dir", default=root, help="the source tree (default: this repository)")
    ap.add_argument("--allow", action="append", default=[],
                    help="a prefix where files from no Debian package are fine (besides the build and "
                         "source trees, /usr/local/cuda* and pip's prefixes); a trailing * matches any "
                         "name start")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every file and its package")
    a = ap.parse_args(argv)
    build = a.build_dir if os.path.isabs(a.build_dir) else os.path.join(os.getcwd(), a.build_dir)
    for tool in ("dpkg-query", "ninja", "ldd"):
        if not shutil.which(tool):
            print(f"check_deps: {tool} not found", file=sys.stderr)
            return 2
    try:
        allowed = list(DEFAULT_ALLOWED) + pip_prefixes() + a.allow
        return check(a.packages, a.group, build, a.source_dir, allowed, a.verbose)
    except CheckError as e:
        print(f"check_deps: cannot check: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
