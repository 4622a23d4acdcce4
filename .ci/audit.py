"""pip-audit over a lock file: fail on a known vulnerability, say loudly what was not audited.

pip-audit asks PyPI's per-release JSON API (pypi.org/pypi/NAME/VERSION/json) for advisories.
Where that API does not answer (a mirror, no internet), pip-audit skips every package and
still reports "No known vulnerabilities found"; this script calls that what it is: not audited.
That is a loud warning, not a failure, so that `make test` does not depend on the network;
BBRELAY_AUDIT_STRICT=1 (for a CI that reaches PyPI) makes it a failure too.

usage: python .ci/audit.py LOCKFILE
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def audit(lock: str) -> dict[str, list[dict[str, object]]] | None:
    """pip-audit's JSON report for `lock`, or None when it could not produce one."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "--disable-pip", "--require-hashes"]
        command += ["-r", lock, "-f", "json", "-o", str(report), "--progress-spinner", "off"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if not report.exists():
            print(done.stderr.strip(), file=sys.stderr)
            return None
        result: dict[str, list[dict[str, object]]] = json.loads(report.read_text())
        return result


def main(lock: str) -> int:
    strict = os.environ.get("BBRELAY_AUDIT_STRICT") == "1"
    report = audit(lock)
    packages = report["dependencies"] if report else []
    vulnerable = [p for p in packages if p.get("vulns")]
    skipped = [p for p in packages if p.get("skip_reason")]
    for package in vulnerable:
        for vuln in package["vulns"]:  # type: ignore[attr-defined]
            fixed = ", ".join(vuln["fix_versions"]) or "no fix yet"
            name = f"{package['name']} {package['version']}"
            print(f"pip-audit: {name}: {vuln['id']} (fixed in {fixed})")
    if vulnerable:
        print(
            f"pip-audit: FAILED: known vulnerabilities in {lock}; raise the floor and `make lock`"
        )
        return 1
    if report is None or skipped:
        reason = skipped[0]["skip_reason"] if skipped else "pip-audit failed (above)"
        print(
            "\n".join(
                [
                    "!" * 78,
                    f"pip-audit: NOT AUDITED: {len(skipped)} of {len(packages)} packages in {lock}"
                    " could not be checked; no vulnerability source answers from here.",
                    f"pip-audit: first reason: {reason}",
                    "pip-audit: run `make audit` where pypi.org's JSON API is reachable"
                    + ("" if strict else "; BBRELAY_AUDIT_STRICT=1 makes this a failure"),
                    "!" * 78,
                ]
            ),
            file=sys.stderr,
        )
        return 1 if strict else 0
    print(f"pip-audit: no known vulnerabilities in the {len(packages)} packages of {lock}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
