output "account_id" {
  description = "The emulator's account."
  value       = data.aws_caller_identity.current.account_id
}

output "function_environment" {
  description = "The environment of each function, for `cargo lambda watch`."
  value       = module.slipway.function_environment
}

output "function_names" {
  description = "The functions as the emulator stores them."
  value       = module.slipway.function_names
}

output "event_patterns" {
  description = "The EventBridge pattern of each rule."
  value       = module.slipway.event_patterns
}

output "ledger_bucket" {
  description = "The ledger bucket."
  value       = module.slipway.ledger_bucket
}

output "source_bucket" {
  description = "The source bucket."
  value       = module.slipway.source_bucket
}

output "approvals_topic_arn" {
  description = "The approvals topic."
  value       = module.slipway.approvals_topic_arn
}

output "approvals_inbox_url" {
  description = "The queue subscribed to the approvals topic."
  value       = aws_sqs_queue.approvals_inbox.url
}

output "signing_key_secret" {
  description = "The signing-key secret (its value is put by the demo's setup)."
  value       = module.slipway.signing_key_secret
}

output "repository_url" {
  description = "The app's ECR repository."
  value       = module.ecr.repository_url
}

output "services" {
  description = "The demo's services: cluster and name."
  value = {
    web        = { cluster = module.cluster.name, service = module.web.service_name }
    "web-prod" = { cluster = module.cluster.name, service = module.web_prod.service_name }
  }
}

output "github_ci_role_arn" {
  description = "The role GitHub Actions would assume."
  value       = module.github_ci.role_arn
}

output "approval_url" {
  description = "The approval HTTP API's URL on the local AWS (the emulator stores the API but does not serve it; locally approvals go to cargo lambda watch's function URL)."
  value       = module.slipway.approval_url
}

output "function_role_arns" {
  description = "The role each function runs as: the local stack's AWS profiles assume it through STS, and tests/local/iam_check.py checks every call against its policies."
  value       = module.slipway.function_role_arns
}

output "settings_parameter" {
  description = "The SSM parameter the slipway command line reads (`slipway --env local`)."
  value       = module.slipway.settings_parameter
}
