# The events that wake Slipway on the default bus, archived for `slipway replay`: after an
# outage (a broken deployment of Slipway, a revoked permission), StartReplay sends them
# again to Slipway's rules only (FilterArns), and the ledger and the ordering rule make a
# replayed, duplicate or out-of-order event harmless. Replayed events are not archived
# again (Amazon EventBridge API Reference, "CreateArchive"); a replay goes to the archive's
# source bus ("StartReplay", "ReplayDestination").
resource "aws_cloudwatch_event_archive" "slipway" {
  name        = "${var.name}-events"
  description = "The ECR, S3 and ECS events that wake Slipway, for slipway replay"
  # A release group's task events too: ECS keeps a stopped task about an hour, the
  # archive keeps its exit code for a replay.
  event_source_arn = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/default"
  retention_days   = var.archive_retention_days
  event_pattern = jsonencode({
    source        = ["aws.ecr", "aws.s3", "aws.ecs"]
    "detail-type" = ["ECR Image Action", "Object Created", "ECS Deployment State Change", "ECS Service Action", "ECS Hook State Change", "ECS Task State Change"]
  })
}

# What the operator's command line (`slipway`, src/cli/) reads to find everything else: one
# SSM parameter per environment, so operators configure nothing locally that could drift
# from what Terraform applied. `slipway --env <environment> status` reads it with the
# operator's own credentials (ssm:GetParameter on this parameter).
resource "aws_ssm_parameter" "settings" {
  # checkov:skip=CKV2_AWS_34: names, ARNs and URLs only, nothing secret: a String parameter keeps it readable with ssm:GetParameter alone
  name        = "/slipway/${var.environment}/settings"
  description = "Slipway ${var.environment}: where the slipway command line finds the ledger, the config, the queues and the functions"
  type        = "String"
  value = jsonencode({
    environment        = var.environment
    account            = local.account
    region             = local.region
    ledger_bucket      = aws_s3_bucket.this["ledger"].bucket
    config_s3          = "s3://${aws_s3_bucket.this["ledger"].bucket}/${local.config_key}"
    config_version     = aws_s3_object.config.version_id
    dead_letter_queues = { for name, queue in aws_sqs_queue.dead_letters : name => queue.url }
    functions          = { for name, f in local.all_functions : name => f.arn }
    approval_url       = local.approval_url
    operator_url       = "${local.approval_url}operator"
    archive_arn        = aws_cloudwatch_event_archive.slipway.arn
    event_bus_arn      = aws_cloudwatch_event_archive.slipway.event_source_arn
    replay_rule_arns   = [for key, rule in aws_cloudwatch_event_rule.this : rule.arn if local.rules[key].bus == null && local.rules[key].schedule == null]
    push_rule_pattern  = aws_cloudwatch_event_rule.this["image-push"].event_pattern
  })

  tags = var.tags
}
