output "name" {
  description = "The repository's name."
  value       = aws_ecr_repository.this.name
}

output "arn" {
  description = "The repository's ARN (for IAM policies)."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "Where CI pushes: `<account>.dkr.ecr.<region>.amazonaws.com/<name>`."
  value       = aws_ecr_repository.this.repository_url
}

output "lifecycle_policy" {
  description = "The lifecycle policy document, as JSON."
  value       = aws_ecr_lifecycle_policy.this.policy
}

output "registry_policy" {
  description = "The registry's policy admitting replication from `replicate_from_accounts`, as JSON (null without them)."
  value       = length(var.replicate_from_accounts) == 0 ? null : jsonencode(local.registry_policy)
}

output "replication_rules" {
  description = "The registry's replication rules this module set (destinations, repository filter); empty without `replicate_to`."
  value       = flatten([for configuration in aws_ecr_replication_configuration.this : configuration.replication_configuration[0].rule])
}
