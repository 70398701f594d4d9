output "role_arn" {
  description = "The role the workflows assume (`role-to-assume` of aws-actions/configure-aws-credentials)."
  value       = aws_iam_role.this.arn
}

output "oidc_provider_arn" {
  description = "The GitHub OIDC provider the role trusts."
  value       = local.oidc_provider_arn
}

output "trust_policy" {
  description = "The role's trust policy, as JSON (who may assume it)."
  value       = jsonencode(local.trust_policy)
}

output "permissions_policy" {
  description = "The role's permissions, as JSON (what it may do)."
  value       = jsonencode(local.permissions_policy)
}
