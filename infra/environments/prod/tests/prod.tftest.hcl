# What makes prod prod, planned against a mock AWS (`make infra-test`).

mock_provider "aws" {
  source = "../../tests/aws-mock"
}

variables {
  domain_name       = "shop.example.com"
  initial_image     = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app:v1.0.0"
  github_repository = "acme/shop"
  dev_account_id    = "999988887777"
}

run "prod_survives_a_zone_and_asks_first" {
  command = apply

  assert {
    condition     = output.settings.nat_gateways == 2
    error_message = "prod has a NAT gateway in each of its two zones."
  }

  assert {
    condition     = [for rule in output.settings.ecr_lifecycle.rules : [rule.rulePriority, rule.selection.tagPatternList, rule.selection.countType, rule.selection.countNumber] if rule.selection.tagStatus == "tagged"] == [[2, ["v*"], "imageCountMoreThan", 10], [3, ["*"], "sinceImagePushed", 14]]
    error_message = "prod keeps its 10 newest releases (v*), ahead of the rule that expires dev's builds nobody released after 14 days."
  }

  assert {
    condition     = [for rule in output.settings.ecr_lifecycle.rules : rule.selection.countNumber if rule.selection.tagStatus == "untagged"] == [1]
    error_message = "Untagged images expire within a day."
  }

  assert {
    condition     = output.settings.capacity.min == 2 && output.settings.capacity.max == 4
    error_message = "prod runs 2 to 4 tasks."
  }

  assert {
    condition     = output.settings.deletion_protection == true
    error_message = "prod's ALB refuses deletion."
  }

  assert {
    condition     = [for t in output.settings.config.targets : t.policy] == ["approval"]
    error_message = "prod deploys only what a person approves."
  }

  assert {
    condition     = length(output.settings.placement) == 0
    error_message = "Fargate has no placement strategy."
  }

  assert {
    condition     = output.settings.github_trust.Statement[0].Condition.StringLike["token.actions.githubusercontent.com:sub"] == ["repo:acme/shop:ref:refs/tags/v*"]
    error_message = "prod's images come from release tags only."
  }

  assert {
    condition     = [for s in output.settings.github_permissions.Statement : s.Resource if s.Sid == "EcrRetagApp"] == [[module.platform.repository_arn]] && length([for s in output.settings.github_permissions.Statement : s if s.Sid == "EcrPushApp"]) == 0
    error_message = "prod's CI only tags images already in its repository: it builds nothing."
  }

  assert {
    condition = jsonencode(output.settings.registry_policy.Statement) == jsonencode([{
      Action    = ["ecr:ReplicateImage"]
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::999988887777:root"] }
      Resource  = [module.platform.repository_arn]
      Sid       = "ReplicateBuilds"
    }])
    error_message = "prod's registry admits dev's builds into its app repository, and nothing else."
  }

  assert {
    condition     = length(output.settings.image_replication) == 0
    error_message = "prod copies its images nowhere."
  }

  assert {
    condition = (jsonencode(output.settings.config.targets[0].promotion) == jsonencode({ alarms_ok = [], from = ["dev-web"], soak = "1h" })
      && jsonencode(output.settings.config.upstreams) == jsonencode([{
        account = "999988887777", ledger_bucket = "slipway-dev-ledger-999988887777", name = "dev-web", tags = { glob = "*" }, target = "web"
    }]))
    error_message = "prod deploys only what succeeded on dev's web and ran there an hour, read from dev's ledger: ${jsonencode(output.settings.config)}"
  }

  assert {
    condition     = jsonencode(output.settings.cross_account.promotion_bus.condition.values) == jsonencode(["arn:aws:iam::999988887777:role/slipway-dev-hint-forwarder"])
    error_message = "prod's promotion bus admits dev's hint forwarder only."
  }
}

run "prod_spreads_tasks_across_zones_on_ec2" {
  command = apply

  variables {
    launch_type = "EC2"
  }

  assert {
    condition     = jsonencode(output.settings.placement) == jsonencode([{ field = "attribute:ecs.availability-zone", type = "spread" }, { field = "instanceId", type = "spread" }])
    error_message = "prod spreads tasks across zones on EC2."
  }
}
