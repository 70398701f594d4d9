"""Checks every `run:` script in .github/workflows beyond what the schema can see.

- No `${{ … }}` inside a script: expressions (inputs, refs, variables) reach scripts through
  `env:` only, so a crafted branch name or input can never become shell code.
- Each script parses as bash (`bash -n`), the shell GitHub runs them with, and so does each
  script under .github/scripts.

Run by `make workflows` with the lint venv's Python (ruamel.yaml comes with check-jsonschema).
"""

import pathlib
import subprocess
import sys

from ruamel.yaml import YAML

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_steps(workflow):
    for job_name, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                yield f"{job_name} / {step.get('name', f'step {index + 1}')}", step["run"]


def main():
    problems, checked = [], 0
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = YAML(typ="safe").load(path.read_text())
        for where, script in run_steps(workflow):
            checked += 1
            label = f"{path.relative_to(ROOT)}: {where}"
            if "${{" in script:
                problems.append(f"{label}: an expression inside the script; pass it through env:")
            parsed = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
            if parsed.returncode != 0:
                problems.append(f"{label}: bash cannot parse it: {parsed.stderr.strip()}")
    # The scripts the workflows call (.github/scripts) parse as bash too.
    for path in sorted((ROOT / ".github" / "scripts").glob("*.sh")):
        checked += 1
        parsed = subprocess.run(["bash", "-n", str(path)], text=True, capture_output=True)
        if parsed.returncode != 0:
            problems.append(f"{path.relative_to(ROOT)}: bash cannot parse it: {parsed.stderr.strip()}")
    for problem in problems:
        print("FAIL", problem)
    print(f"run scripts: {checked} checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
