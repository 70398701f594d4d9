# The composition's outputs (infra/modules/platform), under the names the README uses.

output "url" {
  description = "Where the service answers."
  value       = module.platform.url
}

output "alb_dns_name" {
  description = "Point domain_name here when no Route 53 zone was given."
  value       = module.platform.alb_dns_name
}

output "repository_url" {
  description = "Where CI pushes the app's images."
  value       = module.platform.repository_url
}

output "source_bucket" {
  description = "Upload deploy manifests here, under deploy/<target>/."
  value       = module.platform.source_bucket
}

output "approval_url" {
  description = "The approval function's URL."
  value       = module.platform.approval_url
}

output "signing_key_secret" {
  description = "Put the approval signing keys here before the first approval (README, Bootstrap)."
  value       = module.platform.signing_key_secret
}

output "certificate_validation_records" {
  description = "Create these DNS records when no Route 53 zone was given."
  value       = module.platform.certificate_validation_records
}

output "github_actions" {
  description = "The repository variables the workflows in .github/workflows read (README, From git push to a running task)."
  value       = module.platform.github_actions
}

output "settings" {
  description = "What makes this environment what it is: NAT gateways, image history, capacity, placement, deletion protection, deploy policy."
  value       = module.platform.settings
}

output "operator_bus_name" {
  description = "Where operators send rollback and unfreeze requests (aws events put-events --event-bus-name)."
  value       = module.platform.operator_bus_name
}

output "settings_parameter" {
  description = "The SSM parameter the slipway command line reads (`slipway --env <environment>`)."
  value       = module.platform.settings_parameter
}
