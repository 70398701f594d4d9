"""Keeps each module README's inputs and outputs tables in step with variables.tf and
outputs.tf (terraform-docs is not available offline).

  python3 infra/module_docs.py          rewrite the tables
  python3 infra/module_docs.py --check  fail if a README is out of date (make infra-lint)
"""

import pathlib
import re
import sys

MODULES = pathlib.Path(__file__).resolve().parent / "modules"
BEGIN, END = "<!-- BEGIN generated: module_docs.py -->", "<!-- END generated -->"
BLOCK = re.compile(r'^(variable|output) "([^"]+)" \{\n(.*?)^\}', re.S | re.M)


def attribute(body, name):
    heredoc = re.search(rf"^  {name}\s*=\s*<<-?EOT\n(.*?)\n\s*EOT", body, re.S | re.M)
    if heredoc:
        return " ".join(heredoc.group(1).split())
    line = re.search(rf"^  {name}\s*=\s*(.+)$", body, re.M)
    if not line:
        return None
    value = line.group(1).strip()
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1].replace('\\"', '"')
    if value in ("{", "[", "object({", "list(object({"):
        value = "…" if name == "default" else value.rstrip("({[") + "(…)"
    return value


def table(module):
    rows = ["## Inputs", "", "| name | type | default | description |", "| --- | --- | --- | --- |"]
    for kind, name, body in BLOCK.findall((module / "variables.tf").read_text()):
        default = attribute(body, "default")
        rows.append(f"| `{name}` | `{attribute(body, 'type')}` | "
                    f"{'required' if default is None else '`' + default + '`'} | {attribute(body, 'description')} |")
    rows += ["", "## Outputs", "", "| name | description |", "| --- | --- |"]
    for kind, name, body in BLOCK.findall((module / "outputs.tf").read_text()):
        rows.append(f"| `{name}` | {attribute(body, 'description')} |")
    return "\n".join([BEGIN, *rows, END])


def main():
    stale = []
    for module in sorted(p for p in MODULES.iterdir() if (p / "variables.tf").exists()):
        readme = module / "README.md"
        text = readme.read_text() if readme.exists() else f"# {module.name}\n\n{BEGIN}\n{END}\n"
        if BEGIN not in text:
            text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
        updated = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: table(module), text, flags=re.S)
        if updated != text:
            stale.append(str(readme.relative_to(MODULES.parent.parent)))
            if "--check" not in sys.argv:
                readme.write_text(updated)
    if stale and "--check" in sys.argv:
        sys.exit("module READMEs out of date (run python3 infra/module_docs.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
