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
