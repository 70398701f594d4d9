# The load balancer's progressive-delivery resources, applied against a mock AWS
# (`make infra-test`).

mock_provider "aws" {
  source = "../../tests/aws-mock"
}

variables {
  name              = "shop"
  vpc_id            = "vpc-0123456789abcdef0"
  public_subnet_ids = ["subnet-a", "subnet-b"]
  domain_name       = "shop.example.com"
  tags              = { Project = "shop", Environment = "test" }
}

run "without_progressive_there_is_nothing_extra" {
  command = apply

  assert {
    condition     = output.progressive == null && length(aws_lb_target_group.alternate) == 0 && length(aws_lb_listener.test) == 0 && length(aws_lb_listener_rule.shift) == 0
    error_message = "A plain load balancer has no alternate target group or test listener."
  }
}

run "progressive_creates_what_ecs_shifts_traffic_with" {
  command = apply

  variables {
    progressive = true
  }

  # Both rules start on the production target group; ECS moves the weights.
  assert {
    condition = alltrue([
      for rule in values(aws_lb_listener_rule.shift) :
      jsonencode([for tg in one(one(rule.action).forward).target_group : tg.weight]) == jsonencode([100, 0])
      || jsonencode([for tg in one(one(rule.action).forward).target_group : tg.weight]) == jsonencode([0, 100])
    ])
    error_message = "The listener rules do not forward to both target groups with weights 100/0."
  }

  assert {
    condition     = aws_lb_listener.test[0].port == 8443 && aws_lb_listener_rule.shift["test"].listener_arn == aws_lb_listener.test[0].arn && aws_lb_listener_rule.shift["production"].listener_arn == aws_lb_listener.https.arn
    error_message = "The test listener is not on port 8443 with its own rule."
  }

  # Only inside the VPC unless told otherwise: the revision under test is not public.
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.test) == 1 && aws_vpc_security_group_ingress_rule.test[0].from_port == 8443
    error_message = "The test listener's port is not opened (only) to the VPC."
  }

  assert {
    condition = (
      output.progressive.alternate_target_group_arn == aws_lb_target_group.alternate[0].arn
      && output.progressive.production_listener_rule == aws_lb_listener_rule.shift["production"].arn
      && output.progressive.test_listener_rule == aws_lb_listener_rule.shift["test"].arn
      && output.progressive.test_url == "https://shop.example.com:8443/"
      && output.progressive.alarm_name == "shop-new-revision-5xx"
    )
    error_message = "The outputs do not name what a target's rollout.load_balancer needs."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.new_revision_5xx[0].metric_name == "HTTPCode_Target_5XX_Count" && aws_cloudwatch_metric_alarm.new_revision_5xx[0].namespace == "AWS/ApplicationELB"
    error_message = "The alarm does not watch the new revision's 5xx answers."
  }
}
