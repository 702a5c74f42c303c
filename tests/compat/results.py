#!/usr/bin/env python3
"""tests/compat/results.py - per-test results of a compat run, and the diff.

  results.py regrtest JUNIT_XML LOG   per-test rows from CPython's regrtest
                                      (--junit-xml) and one row per module
                                      from the summary of its output
  results.py table HOST CONTAINER KNOWN [--title T]
                                      the diff table; exit 1 when a row
                                      differs and known.tsv does not
                                      explain it, or when nothing was
                                      compared

A results file has one row per test: "ID<TAB>RESULT<TAB>DETAIL".  RESULT is
pass, fail, error or skip (a test of the server suites: pass or fail);
DETAIL (a skip reason, the first line of a failure) is shown in the table
but never compared: only RESULT is.  An ID missing on one side is "absent"
there: a test that did not run inside is a difference, not a silent pass.

known.tsv: "GLOB<TAB>CAUSE" lines (fnmatch on the ID, # comments): a row
that differs and matches is listed with its cause and does not fail the
run.  A known difference that does not show up in this run is listed too
(a cause that went away should be deleted from known.tsv and docs/compatibility.md).
"""
import fnmatch
import re
import sys
import xml.etree.ElementTree as ET


def regrtest_rows(xml_path, log_path):
    rows = {}
    try:
        tree = ET.parse(xml_path)
        cases = tree.iter("testcase")
    except (OSError, ET.ParseError) as e:
        print(f"results.py: {xml_path}: {e}", file=sys.stderr)
        cases = []
    # With -w a failed module runs again: its rows come twice, and the
    # last one (the re-run's) stands, as regrtest's own verdict does.
    for tc in cases:
        # A subtest's error is a <testcase/> without a name: it is counted
        # in its module's row, and its test's own row is missing.
        name = tc.get("name")
        if not name:
            continue
        result, detail = "pass", ""
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                result = {"failure": "fail", "skipped": "skip"}.get(
                    child.tag, child.tag)
                text = child.get("message") or (child.text or "")
                detail = text.strip().splitlines()[0] if text.strip() else ""
                break
        rows[name] = (result, detail[:120])
    modules = {}
    try:
        with open(log_path, errors="replace") as f:
            log = f.read().splitlines()
    except OSError as e:
        print(f"results.py: {log_path}: {e}", file=sys.stderr)
        log = []
    # The summary regrtest prints last (display_result() in
    # Lib/test/libregrtest/main.py): "N tests failed:" followed by the
    # names, indented, over one or more lines.
    kinds = {
        "failed": "fail",
        "altered the execution environment": "env-changed",
        "skipped": "skip",
        "omitted": "omitted",
        "run no tests": "no-tests",
    }
    try:
        start = max(i for i, l in enumerate(log) if l.startswith("== Tests result:"))
    except ValueError:
        start = None
    ran = set()
    for line in log:
        m = re.search(r"\] (test[\w.]+) ", line + " ")
        if m:
            ran.add(m.group(1))
    if start is not None:
        kind = None
        for line in log[start + 1:]:
            m = re.match(r"^\d+ tests? (.*):$", line)
            if m:
                kind = kinds.get(m.group(1))
                continue
            if kind and line.startswith("    "):
                for name in line.split():
                    modules[name] = kind
                continue
            kind = None
        for name in ran:
            modules.setdefault(name, "pass")
    for name, result in modules.items():
        rows[f"module {name}"] = (result, "")
    for name in sorted(rows):
        print(f"{name}\t{rows[name][0]}\t{rows[name][1]}")


def read_rows(path):
    rows = {}
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts and parts[0]:
                rows[parts[0]] = (parts[1] if len(parts) > 1 else "?",
                                  parts[2] if len(parts) > 2 else "")
    return rows


def read_known(path):
    known = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            glob, _, cause = line.partition("\t")
            known.append((glob, cause.strip()))
    return known


def cell(r):
    result, detail = r
    return f"{result} ({detail})" if detail and result != "pass" else result


def table(host_path, cont_path, known_path, title):
    host, cont = read_rows(host_path), read_rows(cont_path)
    known = read_known(known_path)
    ids = sorted(set(host) | set(cont))
    absent = ("absent", "")
    diff, same, unexplained, seen_globs = [], 0, 0, set()
    for i in ids:
        h, c = host.get(i, absent), cont.get(i, absent)
        if h[0] == c[0]:
            same += 1
            continue
        cause = next(((g, why) for g, why in known if fnmatch.fnmatchcase(i, g)),
                     None)
        if cause:
            seen_globs.add(cause[0])
        else:
            unexplained += 1
        diff.append((i, h, c, cause[1] if cause else "UNEXPLAINED"))
    print(f"### {title}: {len(ids)} tests, {same} same on the host and in "
          f"the container, {len(diff)} differ ({unexplained} unexplained)")
    counts = {}
    for i in ids:
        r = host.get(i, absent)[0]
        counts[r] = counts.get(r, 0) + 1
    print("host results: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if diff:
        print()
        print("| test id | host | container | cause |")
        print("|---|---|---|---|")
        for i, h, c, why in diff:
            print(f"| `{i}` | {cell(h)} | {cell(c)} | {why} |")
    gone = [g for g, _ in known if g not in seen_globs and
            any(fnmatch.fnmatchcase(i, g) for i in ids)]
    if gone:
        print()
        print("known differences that did not differ in this run: " + ", ".join(gone))
    print()
    if not host or not cont:
        print(f"{title}: no results on the {'host' if not host else 'container'} side")
        return 1
    return 1 if unexplained else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "regrtest":
        regrtest_rows(argv[2], argv[3])
        return 0
    if len(argv) in (5, 7) and argv[1] == "table":
        title = argv[6] if len(argv) == 7 and argv[5] == "--title" else "compat"
        return table(argv[2], argv[3], argv[4], title)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
