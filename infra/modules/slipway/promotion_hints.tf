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
#
# Across accounts (README, "Promotion across accounts"): an upstream Slipway forwards the
# hints about the targets others promote from (`promoted_elsewhere`) to their Slipways'
# promotion buses, with a role of its own (a rule whose target is another account's bus;
# EventBridge User Guide, "Sending and receiving events between AWS accounts in Amazon
# EventBridge"); a downstream Slipway's bus admits those roles (`upstreams`) and no other
# principal of their accounts. The event keeps the publisher's account, which is how the
# functions tell whose hint it is (src/deployer/hints.rs).
locals {
  promotes        = anytrue([for t in var.targets : t.promotion != null]) || length(var.promoted_elsewhere) > 0
  hint_publishers = ["approval", "deployment-events", "reconcile"]
  # The upstream Slipways' forwarding roles, which alone of their accounts may hint here.
  hint_forwarders = distinct(compact([for u in var.upstreams : u.hint_forwarder_role_arn]))
  promotion_bus_deny = {
    sid     = "OnlySlipwayPublishesHints"
    actions = ["events:PutEvents"]
    condition = {
      test = "ArnNotEquals", variable = "aws:PrincipalArn", values = concat([for f in local.hint_publishers : aws_iam_role.function[f].arn], local.hint_forwarders)
    }
  }
  # The upstream Slipways' forwarders: another account's principal needs an Allow here
  # (EventBridge User Guide, "Permissions for event buses in Amazon EventBridge").
  promotion_bus_allow = length(local.hint_forwarders) == 0 ? null : {
    sid        = "UpstreamSlipwaysForwardHints"
    actions    = ["events:PutEvents"]
    principals = distinct([for u in var.upstreams : "arn:${local.partition}:iam::${u.account_id}:root" if u.hint_forwarder_role_arn != null])
    condition  = { test = "ArnEquals", variable = "aws:PrincipalArn", values = local.hint_forwarders }
  }
  # Where this Slipway forwards hints, and about which targets: one rule per bus.
  hint_forwards = {
    for bus in distinct(compact([for p in var.promoted_elsewhere : p.hint_bus_arn])) :
    bus => distinct([for p in var.promoted_elsewhere : p.target if p.hint_bus_arn == bus])
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

  dynamic "statement" {
    for_each = local.promotion_bus_allow == null ? [] : [local.promotion_bus_allow]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = [aws_cloudwatch_event_bus.promotion[0].arn]
      principals {
        type        = "AWS"
        identifiers = statement.value.principals
      }
      condition {
        test     = statement.value.condition.test
        variable = statement.value.condition.variable
        values   = statement.value.condition.values
      }
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "promotion" {
  count = local.promotes ? 1 : 0

  event_bus_name = aws_cloudwatch_event_bus.promotion[0].name
  policy         = data.aws_iam_policy_document.promotion_bus[0].json
}

# Forwarding this Slipway's hints to the Slipways that promote from its targets.
data "aws_iam_policy_document" "hint_forwarder_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    # Only this account's rules may use it (IAM User Guide, "The confused deputy problem").
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "hint_forwarder" {
  count = length(local.hint_forwards) == 0 ? 0 : 1

  name               = "${var.name}-hint-forwarder"
  description        = "${var.name}: forwards promotion hints to the Slipways that promote from its targets"
  assume_role_policy = data.aws_iam_policy_document.hint_forwarder_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "hint_forwarder" {
  count = length(local.hint_forwards) == 0 ? 0 : 1

  statement {
    sid       = "PutHintsOnDownstreamBuses"
    actions   = ["events:PutEvents"]
    resources = keys(local.hint_forwards)
  }
}

resource "aws_iam_role_policy" "hint_forwarder" {
  count = length(local.hint_forwards) == 0 ? 0 : 1

  name   = "forward-hints"
  role   = aws_iam_role.hint_forwarder[0].id
  policy = data.aws_iam_policy_document.hint_forwarder[0].json
}

resource "aws_cloudwatch_event_rule" "forward_hints" {
  for_each = local.hint_forwards

  name           = "${var.name}-forward-hints-${substr(sha256(each.key), 0, 8)}"
  description    = "Slipway: successes of ${join(", ", each.value)} told to the Slipway promoting from them (${each.key})"
  event_bus_name = aws_cloudwatch_event_bus.promotion[0].name
  event_pattern = jsonencode({
    source        = ["slipway.promotion"]
    "detail-type" = ["Slipway Upstream Succeeded"]
    detail        = { target = each.value }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "forward_hints" {
  for_each = local.hint_forwards

  rule           = aws_cloudwatch_event_rule.forward_hints[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.promotion[0].name
  target_id      = "downstream-slipway"
  arn            = each.key
  role_arn       = aws_iam_role.hint_forwarder[0].arn
}
