data "aws_partition" "current" {}

# ECS's infrastructure role for load balancers: what ECS assumes to move a blue/green,
# canary or linear deployment's traffic between the target groups (Amazon ECS Developer
# Guide, "Amazon ECS infrastructure IAM role for load balancers"; the AWS managed policy
# AmazonECSInfrastructureRolePolicyForLoadBalancers). Slipway names it in UpdateService
# (loadBalancers[].advancedConfiguration.roleArn) and may pass it to ECS only.

data "aws_iam_policy_document" "infrastructure_trust" {
  count = var.progressive ? 1 : 0
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "infrastructure" {
  count              = var.progressive ? 1 : 0
  name               = "${var.name}-ecs-infrastructure"
  description        = "ECS shifts ${var.name}'s traffic between its target groups during progressive deployments"
  assume_role_policy = data.aws_iam_policy_document.infrastructure_trust[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "infrastructure" {
  count      = var.progressive ? 1 : 0
  role       = aws_iam_role.infrastructure[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}
