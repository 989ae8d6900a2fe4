#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite: unit tests
# (ctest) and integration tests against the real binary and real peers
# (pytest). Prints one closing line "summary: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/build.sh || exit 1

results=build/test-results
rm -rf "$results" && mkdir -p "$results"
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 120 --output-junit "$PWD/../$results/ctest.xml")
ctest_rc=$?
# The lock-free table and RCU code again under ASan and TSan.
bash scripts/sanitize.sh | tee "$results/sanitize.log"
sanitize_rc=${PIPESTATUS[0]}
# Debian's python3 has dnspython; a python3 earlier on PATH may not.
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$results/pytest.xml" tests
pytest_rc=$?

/usr/bin/python3 - "$results" <<'PY'
import sys, pathlib, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in pathlib.Path(sys.argv[1]).glob("*.xml"):
    for case in ET.parse(f).getroot().iter("testcase"):
        kids = {c.tag for c in case}
        if kids & {"failure", "error"}:
            failed += 1
        elif "skipped" in kids:
            skipped += 1
        else:
            passed += 1
# scripts/sanitize.sh: one "PASS san target" / "FAIL san ..." line per binary.
for line in (pathlib.Path(sys.argv[1]) / "sanitize.log").read_text().splitlines():
    if line.startswith("PASS "):
        passed += 1
    elif line.startswith("FAIL "):
        failed += 1
print(f"summary: {passed} passed, {failed} failed, {skipped} skipped")
PY
if [ $ctest_rc -ne 0 ] || [ $sanitize_rc -ne 0 ] || [ $pytest_rc -ne 0 ]; then exit 1; fi
