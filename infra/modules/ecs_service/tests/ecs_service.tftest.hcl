# The service's progressive-delivery role, applied against a mock AWS (`make infra-test`).

mock_provider "aws" {
  source = "../../tests/aws-mock"
}

variables {
  name                 = "web"
  cluster_arn          = "arn:aws:ecs:eu-west-1:111122223333:cluster/shop"
  cluster_name         = "shop"
  image                = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app:v1.0.0"
  repository_arns      = ["arn:aws:ecr:eu-west-1:111122223333:repository/app"]
  health_check_command = ["CMD", "/usr/local/bin/app", "healthcheck"]
  subnet_ids           = ["subnet-a"]
  vpc_id               = "vpc-0123456789abcdef0"
  tags                 = { Project = "shop", Environment = "test" }
}

run "a_rolling_service_has_no_infrastructure_role" {
  command = apply

  assert {
    condition     = output.infrastructure_role_arn == null && length(aws_iam_role.infrastructure) == 0
    error_message = "A rolling service needs no infrastructure role."
  }
}

run "a_progressive_service_gives_ecs_its_load_balancer_role" {
  command = apply

  variables {
    progressive = true
  }

  assert {
    condition     = jsonencode(data.aws_iam_policy_document.infrastructure_trust[0].statement[0].principals) == jsonencode([{ type = "Service", identifiers = ["ecs.amazonaws.com"] }])
    error_message = "Only ECS may assume the infrastructure role."
  }

  assert {
    condition     = endswith(aws_iam_role_policy_attachment.infrastructure[0].policy_arn, ":iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers")
    error_message = "The role does not carry AWS's managed policy for load balancers."
  }

  assert {
    condition     = output.infrastructure_role_arn == aws_iam_role.infrastructure[0].arn
    error_message = "The role's ARN is not an output for the target's rollout.load_balancer.role_arn."
  }
}
