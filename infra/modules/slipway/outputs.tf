output "function_names" {
  description = "Function name of each Slipway function, by function."
  value       = { for name, f in local.all_functions : name => f.function_name }
}

output "function_arns" {
  description = "ARN of each Slipway function, by function."
  value       = { for name, f in local.all_functions : name => f.arn }
}

output "function_environment" {
  description = "The environment each function runs with (locally, `cargo lambda watch` gets the same)."
  value       = local.function_environment
}

output "function_role_arns" {
  description = "The IAM role each function runs as, by function (the local stack assumes it for the function, as Lambda does)."
  value       = { for name, role in aws_iam_role.function : name => role.arn }
}

output "function_permissions" {
  description = "Each function's IAM statements (sid, actions, resources, condition), as Terraform values."
  value       = local.function_statements
}

output "function_policies" {
  description = "Each function's IAM policy, as JSON."
  value       = { for name, doc in data.aws_iam_policy_document.function : name => doc.json }
}

output "approval_url" {
  description = "The approval HTTP API's URL, which approval links point to."
  value       = local.approval_url
}

output "approval_api_id" {
  description = "The approval HTTP API's id."
  value       = aws_apigatewayv2_api.approval.id
}

output "config_json" {
  description = "The targets config the functions read (the object config/targets.json in the ledger bucket)."
  value       = local.config_json
}

output "event_patterns" {
  description = "The EventBridge pattern of each rule, as JSON."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.event_pattern }
}

output "ledger_bucket" {
  description = "The ledger bucket."
  value       = aws_s3_bucket.this["ledger"].bucket
}

output "source_bucket" {
  description = "The source bucket: upload manifests under the source prefix."
  value       = aws_s3_bucket.this["source"].bucket
}

output "source_bucket_arn" {
  description = "The source bucket's ARN (for the CI role's upload permission)."
  value       = aws_s3_bucket.this["source"].arn
}

output "source_prefix" {
  description = "The key prefix Slipway deploys manifests from."
  value       = var.source_prefix
}

output "approvals_topic_arn" {
  description = "The SNS topic of approval requests and outcomes."
  value       = aws_sns_topic.approvals.arn
}

output "signing_key_secret" {
  description = "Name of the secret holding the approval-link signing keys (put its value before the first approval)."
  value       = aws_secretsmanager_secret.signing_keys.name
}

output "slack_secret" {
  description = "Name of the Slack secret (null when Slack is off)."
  value       = one(aws_secretsmanager_secret.slack[*].name)
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queue of each event-driven function."
  value       = { for name, q in aws_sqs_queue.dead_letters : name => q.url }
}

output "kms_key_arn" {
  description = "The KMS key of Slipway's data."
  value       = aws_kms_key.this.arn
}

output "config_object" {
  description = "Where the functions read the targets config: the object and the version this apply wrote."
  value = {
    uri        = "s3://${aws_s3_bucket.this["ledger"].bucket}/${local.config_key}"
    version_id = aws_s3_object.config.version_id
  }
}

output "operator_bus_name" {
  description = "The event bus operators send rollback and unfreeze requests to (aws events put-events --event-bus-name)."
  value       = aws_cloudwatch_event_bus.operator.name
}

output "operator_bus_deny" {
  description = "The operator bus policy's one statement (a Deny to every principal but operator_principals), as Terraform values."
  value       = local.operator_bus_deny
}

output "operator_policy_json" {
  description = "An IAM policy for operators: the operator endpoint (execute-api:Invoke on POST /operator/*) and the reads the slipway command line makes. Attach it to the operators' roles, narrowed as needed."
  value       = data.aws_iam_policy_document.operator.json
}

output "settings_parameter" {
  description = "The SSM parameter the `slipway` command line reads its settings from (`slipway --env <environment>`)."
  value       = aws_ssm_parameter.settings.name
}

output "ecs_hooks_role_arn" {
  description = "The role ECS invokes Slipway's lifecycle-hook function (the test probe) with."
  value       = aws_iam_role.ecs_hooks.arn
}

output "promotion_bus_deny" {
  description = "The promotion bus's Deny: PutEvents by anyone but Slipway's functions that record successes (null without promotion)."
  value       = local.promotes ? local.promotion_bus_deny : null
}

output "hint_forwarder_role_arn" {
  description = "The role this Slipway forwards promotion hints with (promoted_elsewhere with hint_bus_arn): give it to the downstream Slipway's upstreams[].hint_forwarder_role_arn."
  value       = length(local.hint_forwards) == 0 ? null : aws_iam_role.hint_forwarder[0].arn
}

output "promotion_bus_arn" {
  description = "This Slipway's promotion bus, where upstream Slipways forward their hints (their promoted_elsewhere[].hint_bus_arn); null without promotion."
  value       = local.promotes ? aws_cloudwatch_event_bus.promotion[0].arn : null
}

output "cross_account_statements" {
  description = "Promotion across accounts, as plain data: what the ledger bucket's and the key's policies grant downstream Slipways (promoted_elsewhere), and what the promotion bus's policy allows upstream Slipways' forwarders (upstreams)."
  value = {
    ledger_bucket = local.ledger_downstream_statements
    key           = local.key_downstream_statements
    promotion_bus = local.promotion_bus_allow
  }
}
