# What makes dev dev, planned against a mock AWS (`make infra-test`).

mock_provider "aws" {
  source = "../../tests/aws-mock"
}

variables {
  domain_name       = "dev.shop.example.com"
  initial_image     = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app:v1.0.0"
  github_repository = "acme/shop"
}

run "dev_is_cheap_and_deploys_by_itself" {
  command = apply

  assert {
    condition     = output.settings.nat_gateways == 1
    error_message = "dev shares one NAT gateway."
  }

  assert {
    condition     = length(output.settings.image_replication) == 0 && output.settings.registry_policy == null && length(output.settings.cross_account.ledger_bucket) == 0
    error_message = "Without prod_account_id, dev replicates nothing, its registry admits nobody and nobody else reads its ledger."
  }

  assert {
    condition     = [for rule in output.settings.ecr_lifecycle.rules : rule.selection.countNumber if rule.selection.tagStatus == "tagged"] == [3]
    error_message = "dev keeps 3 tagged images."
  }

  assert {
    condition     = [for rule in output.settings.ecr_lifecycle.rules : rule.selection.countNumber if rule.selection.tagStatus == "untagged"] == [1]
    error_message = "Untagged images expire within a day."
  }

  assert {
    condition     = output.settings.capacity.min == 1 && output.settings.capacity.max == 2
    error_message = "dev runs 1 to 2 tasks."
  }

  assert {
    condition     = output.settings.deletion_protection == false
    error_message = "dev's ALB can be deleted."
  }

  assert {
    condition     = [for t in output.settings.config.targets : t.policy] == ["auto"]
    error_message = "dev deploys every matching push without asking."
  }

  assert {
    condition     = !contains(keys(output.settings.config), "groups")
    error_message = "Without a migration, web rolls on its own: no release group."
  }

  assert {
    condition     = length(output.settings.placement) == 0
    error_message = "Fargate has no placement strategy."
  }

  assert {
    condition     = output.settings.github_trust.Statement[0].Condition.StringLike["token.actions.githubusercontent.com:sub"] == ["repo:acme/shop:ref:refs/heads/main"]
    error_message = "dev's images come from main."
  }

  assert {
    condition     = [for s in output.settings.github_permissions.Statement : s.Resource if s.Sid == "EcrPushApp"] == [[module.platform.repository_arn]]
    error_message = "CI pushes to this environment's app repository only."
  }
}

run "dev_copies_every_build_to_prod" {
  command = apply

  variables {
    prod_account_id = "444455556666"
  }

  assert {
    condition     = jsonencode([for rule in output.settings.image_replication : rule.destination]) == jsonencode([[{ region = "eu-west-1", registry_id = "444455556666" }]])
    error_message = "Every build is replicated to prod's account, in dev's region unless prod_region says otherwise."
  }

  assert {
    condition     = jsonencode([for rule in output.settings.image_replication : rule.repository_filter]) == jsonencode([[{ filter = "app", filter_type = "PREFIX_MATCH" }]])
    error_message = "Only the app's repository is replicated."
  }

  assert {
    condition     = output.settings.registry_policy == null && [for s in output.settings.github_permissions.Statement : s.Sid if s.Sid == "EcrPushApp"] == ["EcrPushApp"]
    error_message = "dev admits no replication and its CI builds and pushes."
  }

  assert {
    condition     = [for rule in output.settings.ecr_lifecycle.rules : rule.selection.countNumber if rule.selection.tagStatus == "tagged"] == [3]
    error_message = "dev still keeps its 3 newest builds."
  }

  assert {
    condition = (jsonencode(output.settings.config.promoted_elsewhere) == jsonencode(["web"])
      && alltrue([for s in output.settings.cross_account.ledger_bucket : jsonencode(s.readers) == jsonencode(["arn:aws:iam::444455556666:role/slipway-prod-*"]) && s.principal == "arn:aws:iam::444455556666:root"])
      && length(output.settings.cross_account.ledger_bucket) == 2
    && output.settings.hint_forwarder != null)
    error_message = "prod's Slipway reads web's records and hears of each success: ${jsonencode(output.settings.cross_account)}"
  }
}

run "dev_packs_tasks_on_ec2" {
  command = apply

  variables {
    launch_type = "EC2"
  }

  assert {
    condition     = jsonencode(output.settings.placement) == jsonencode([{ field = "memory", type = "binpack" }])
    error_message = "dev binpacks tasks on EC2."
  }
}

run "a_migration_makes_each_release_a_group" {
  command = apply

  variables {
    migration = { command = ["./manage", "migrate"] }
  }

  assert {
    condition = jsonencode(output.settings.config.groups) == jsonencode([{
      name       = "web"
      on_failure = "stop"
      steps = [
        { task = { command = ["./manage", "migrate"], container = "app", name = "migrate", target = "web", timeout = "15m" } },
        { service = "web" },
      ]
    }])
    error_message = "The migration runs in web's new revision, then web rolls: ${jsonencode(try(output.settings.config.groups, null))}"
  }
}
