#!/usr/bin/env bash
# Prints the filesystem mirror directory that holds registry.terraform.io/hashicorp/aws
# (for `terraform init -plugin-dir`), or nothing: then Terraform uses the public registry.
# Machines of this project ship one (shared/DESIGN.md); TF_PLUGIN_DIR overrides the search.
set -euo pipefail
if [ -n "${TF_PLUGIN_DIR:-}" ]; then echo "$TF_PLUGIN_DIR"; exit 0; fi
provider=""
for dir in /opt /usr/local/share /usr/share "$HOME/.terraform.d" "$HOME/.local/share/terraform"; do
  [ -d "$dir" ] || continue
  provider=$(find "$dir" -name 'terraform-provider-aws_*' -path '*registry.terraform.io/hashicorp/aws/*' 2>/dev/null | head -1)
  [ -n "$provider" ] && break
done
if [ -z "$provider" ]; then
  provider=$(find / -xdev -name 'terraform-provider-aws_*' -path '*registry.terraform.io/hashicorp/aws/*' -not -path '/proc/*' 2>/dev/null | head -1 || true)
fi
[ -n "$provider" ] && echo "${provider%%/registry.terraform.io/*}"
exit 0
