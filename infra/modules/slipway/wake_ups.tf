# One-time wake-ups of the reconciler (src/model/wake_up.rs): when a release waits for a
# known time — a deployment window opening, a promotion's soak ending, a release group's
# task reaching its deadline — the function that recorded the wait creates a one-time
# EventBridge Scheduler schedule in this group, which invokes the reconcile function at
# that minute and deletes itself (ActionAfterCompletion DELETE). The reconciler's own
# schedule remains the fallback for a wake-up that could not be created.

resource "aws_scheduler_schedule_group" "wake_ups" {
  name = "${var.name}-wake-ups"
  tags = var.tags
}

locals {
  # Built from the name: the reconcile function's environment names it, so its `arn`
  # attribute would be a cycle.
  reconcile_function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-reconcile"
  wake_up_environment = {
    SLIPWAY_WAKE_UP_GROUP  = aws_scheduler_schedule_group.wake_ups.name
    SLIPWAY_WAKE_UP_TARGET = local.reconcile_function_arn
    SLIPWAY_WAKE_UP_ROLE   = aws_iam_role.wake_ups.arn
  }
}

# The execution role Scheduler invokes the reconciler with: trusted by
# scheduler.amazonaws.com for schedules of this account only (EventBridge Scheduler User
# Guide, "Set up the execution role", confused-deputy condition aws:SourceAccount).
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "wake_ups" {
  name               = "${var.name}-wake-ups"
  description        = "${var.name}: EventBridge Scheduler wakes Slipway's reconciler with this role"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "wake_ups" {
  statement {
    sid       = "WakeTheReconciler"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.reconcile_function_arn]
  }
}

resource "aws_iam_role_policy" "wake_ups" {
  name   = "wake-the-reconciler"
  role   = aws_iam_role.wake_ups.id
  policy = data.aws_iam_policy_document.wake_ups.json
}
