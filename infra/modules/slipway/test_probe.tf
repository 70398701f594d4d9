# Slipway's own Lambda lifecycle hook (README, "Progressive delivery"): a target's
# `rollout.test_probe` makes its UpdateService carry an AWS_LAMBDA hook at
# POST_TEST_TRAFFIC_SHIFT naming this function and the role below; ECS invokes the
# function with that role while the new revision serves the test listener (Amazon ECS
# Developer Guide, "Lambda hooks for Amazon ECS service deployments" and "Permissions
# required for Lambda functions in Amazon ECS blue/green deployments").

locals {
  test_probe_used = anytrue([for t in var.targets : try(t.rollout.test_probe != null, false)])
  # Built from the name: the config object names the function, so its `arn` attribute
  # would make the config wait for the function, which must not wait for the config.
  test_probe_function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-test-probe"
  # The probe reads nothing but its call, and GETs only these origins (scheme://host:port
  # of each probed target's test_url): whoever invokes it with another URL gets FAILED.
  test_probe_environment = {
    RUST_LOG = "info"
    SLIPWAY_TEST_PROBE_ORIGINS = join(",", distinct([
      for t in var.targets : regex("^[A-Za-z]+://[^/?#]+", t.rollout.load_balancer.test_url)
      if try(t.rollout.test_probe != null && t.rollout.load_balancer.test_url != null, false)
    ]))
  }
}

resource "aws_lambda_function" "test_probe" {
  # checkov:skip=CKV_AWS_272: the zips come from `make package` in CI; code signing needs a Signer profile the operator may add
  # checkov:skip=CKV_AWS_115: reserved concurrency is opt-in (var.reserved_concurrency): accounts with a quota of 10 cannot reserve any
  # checkov:skip=CKV_AWS_116: ECS invokes it synchronously and reads the answer; there is no asynchronous event to dead-letter
  # checkov:skip=CKV_AWS_117: it runs in the VPC when var.test_probe_network says where (the test listener is open only to it)
  # checkov:skip=CKV_AWS_173: its only variable is RUST_LOG, no secret

  function_name    = "${var.name}-test-probe"
  description      = local.functions["test-probe"].description
  role             = aws_iam_role.function["test-probe"].arn
  filename         = "${var.package_dir}/test-probe/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.package_dir}/test-probe/bootstrap.zip")
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  memory_size      = 128
  timeout          = local.functions["test-probe"].timeout
  # A throttled call is a failed hook, and ECS rolls back: reserve like the others.
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.test_probe_environment
  }

  dynamic "vpc_config" {
    for_each = var.test_probe_network == null ? [] : [var.test_probe_network]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function["test-probe"].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function]
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
    # No aws:SourceAccount condition: the page's trust policy has none, and ECS does not
    # document that it sets the key when it assumes this role.
  }
}

# The role ECS invokes lifecycle-hook functions with: "lambda:InvokeFunction" on the hook
# function, trusted by ecs.amazonaws.com (Developer Guide, "Permissions required for
# Lambda functions in Amazon ECS blue/green deployments",
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-permissions.html;
# its example grants every function, this one only the probe).
resource "aws_iam_role" "ecs_hooks" {
  name               = "${var.name}-ecs-hooks"
  description        = "${var.name}: ECS invokes Slipway's lifecycle-hook function (the test probe) with this role"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "ecs_hooks" {
  statement {
    sid       = "InvokeTestProbe"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.test_probe_function_arn]
  }
}

resource "aws_iam_role_policy" "ecs_hooks" {
  name   = "invoke-test-probe"
  role   = aws_iam_role.ecs_hooks.id
  policy = data.aws_iam_policy_document.ecs_hooks.json
}

# A probe outside the VPC reaches only a test listener open to the internet; the alb
# module opens it to the VPC and the NAT addresses unless told otherwise.
check "test_probe_network" {
  assert {
    condition     = !local.test_probe_used || var.test_probe_network != null
    error_message = "A target has rollout.test_probe but test_probe_network is null: the probe runs outside the VPC, and a test listener open only to the VPC and its NAT addresses refuses it (every probed rollout would roll back). Set test_probe_network, or open the test listener to the internet knowingly."
  }
}
