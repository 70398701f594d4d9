# Promotion hints (src/deployer/hints.rs): when a deployment of a target others promote
# from succeeds, Slipway puts a "Slipway Upstream Succeeded" event on a bus of its own; a
# rule on that bus hands it to deployment-events, which makes the stages promoting from
# that target look again at once (from the ledger: the hint is never evidence). A hint
# lost costs the reconciler's period at most.
#
# The bus's policy denies PutEvents to every principal but the functions that record
# successes, also within the account: an explicit Deny in a resource-based policy
# overrides any Allow in an identity policy (IAM User Guide, "Policy evaluation logic";
# EventBridge User Guide, "Permissions for event buses in Amazon EventBridge"). For a role,
# aws:PrincipalArn is the role's ARN, whatever the session (IAM User Guide, "AWS global
# condition context keys"). Nobody else — no other account, no other role here — can
# make a stage look again, and a look only reads the ledger anyway.
locals {
  promotes        = anytrue([for t in var.targets : t.promotion != null])
  hint_publishers = ["approval", "deployment-events", "reconcile"]
  promotion_bus_deny = {
    sid     = "OnlySlipwayPublishesHints"
    actions = ["events:PutEvents"]
    condition = {
      test = "ArnNotEquals", variable = "aws:PrincipalArn", values = [for f in local.hint_publishers : aws_iam_role.function[f].arn]
    }
  }
  hint_environment = local.promotes ? {
    SLIPWAY_HINT_BUS = aws_cloudwatch_event_bus.promotion[0].name
  } : {}
  hint_rules = local.promotes ? {
    "promotion-hints" = {
      bus         = aws_cloudwatch_event_bus.promotion[0].name
      function    = "deployment-events"
      description = "Slipway: an upstream target's deployment succeeded; the stages promoting from it look again"
      schedule    = null
      pattern = {
        source        = ["slipway.promotion"]
        "detail-type" = ["Slipway Upstream Succeeded"]
      }
    }
  } : {}
}

resource "aws_cloudwatch_event_bus" "promotion" {
  count = local.promotes ? 1 : 0

  name = "${var.name}-promotion"

  tags = var.tags
}

data "aws_iam_policy_document" "promotion_bus" {
  count = local.promotes ? 1 : 0

  statement {
    sid       = local.promotion_bus_deny.sid
    effect    = "Deny"
    actions   = local.promotion_bus_deny.actions
    resources = [aws_cloudwatch_event_bus.promotion[0].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = local.promotion_bus_deny.condition.test
      variable = local.promotion_bus_deny.condition.variable
      values   = local.promotion_bus_deny.condition.values
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "promotion" {
  count = local.promotes ? 1 : 0

  event_bus_name = aws_cloudwatch_event_bus.promotion[0].name
  policy         = data.aws_iam_policy_document.promotion_bus[0].json
}
