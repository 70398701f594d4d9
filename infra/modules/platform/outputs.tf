output "url" {
  description = "Where the service answers."
  value       = "https://${var.domain_name}"
}

output "alb_dns_name" {
  description = "Point domain_name here when no Route 53 zone was given."
  value       = module.alb.dns_name
}

output "repository_url" {
  description = "Where CI pushes the app's images."
  value       = module.ecr.repository_url
}

output "source_bucket" {
  description = "Upload deploy manifests here, under deploy/<target>/."
  value       = module.slipway.source_bucket
}

output "approval_url" {
  description = "The approval function's URL."
  value       = module.slipway.approval_url
}

output "signing_key_secret" {
  description = "Put the approval signing keys here before the first approval (README, Bootstrap)."
  value       = module.slipway.signing_key_secret
}

output "certificate_validation_records" {
  description = "Create these DNS records when no Route 53 zone was given."
  value       = module.alb.certificate_validation_records
}

output "github_actions" {
  description = "The repository variables the workflows in .github/workflows read (README, From git push to a running task)."
  value = {
    region         = var.region
    role_arn       = module.github_ci.role_arn
    ecr_repository = module.ecr.name
    source_bucket  = module.slipway.source_bucket
  }
}

output "settings" {
  description = "What makes this environment what it is: NAT gateways, image history, capacity, placement, deletion protection, deploy policy."
  value = {
    nat_gateways        = length(module.network.nat_gateway_ids)
    ecr_lifecycle       = jsondecode(module.ecr.lifecycle_policy)
    capacity            = module.web.autoscaling
    placement           = module.web.placement_strategy
    deletion_protection = module.alb.deletion_protection
    config              = jsondecode(module.slipway.config_json)
    github_trust        = jsondecode(module.github_ci.trust_policy)
    github_permissions  = jsondecode(module.github_ci.permissions_policy)
    image_replication   = module.ecr.replication_rules
    registry_policy     = module.ecr.registry_policy == null ? null : jsondecode(module.ecr.registry_policy)
    cross_account       = module.slipway.cross_account_statements
    hint_forwarder      = module.slipway.hint_forwarder_role_arn
  }
}

output "operator_bus_name" {
  description = "Where operators send rollback and unfreeze requests (aws events put-events --event-bus-name)."
  value       = module.slipway.operator_bus_name
}

output "repository_arn" {
  description = "The app repository's ARN (the CI role may push here only)."
  value       = module.ecr.arn
}

output "settings_parameter" {
  description = "The SSM parameter the slipway command line reads (`slipway --env <environment>`)."
  value       = module.slipway.settings_parameter
}
