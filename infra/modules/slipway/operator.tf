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
  })

  tags = var.tags
}
