# What ECS's blue/green, canary and linear deployments shift traffic with (Amazon ECS
# Developer Guide, "Application Load Balancer resources for blue/green, linear, and canary
# deployments"): two target groups, a production listener rule and a test listener rule
# whose forward actions weight them. ECS moves the weights during a deployment, so
# Terraform leaves the rules' actions alone after creating them. Slipway names these in
# the target's `rollout.load_balancer` and sends them with UpdateService
# (loadBalancers[].advancedConfiguration), which the pinned provider cannot express.

locals {
  progressive = var.progressive ? 1 : 0
}

resource "aws_lb_target_group" "alternate" {
  # checkov:skip=CKV_AWS_378: TLS ends at the load balancer; the tasks speak HTTP inside the VPC, as for the app target group
  count                = local.progressive
  name                 = "${var.name}-alt"
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "test" {
  count             = local.progressive
  load_balancer_arn = aws_lb.this.arn
  port              = var.test_port
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.route53_zone_id == null ? aws_acm_certificate.this.arn : aws_acm_certificate_validation.this[0].certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "no revision under test"
      status_code  = "404"
    }
  }

  tags = var.tags
}

# The production listener rule (on the HTTPS listener) and the test listener's rule, both
# forwarding to the two target groups; ECS moves their weights (production traffic, then
# test traffic to the new revision), so Terraform leaves their actions alone once created.
resource "aws_lb_listener_rule" "shift" {
  for_each = var.progressive ? {
    production = aws_lb_listener.https.arn
    test       = aws_lb_listener.test[0].arn
  } : {}
  listener_arn = each.value
  priority     = 1

  action {
    type = "forward"
    forward {
      target_group {
        arn    = aws_lb_target_group.app.arn
        weight = 100
      }
      target_group {
        arn    = aws_lb_target_group.alternate[0].arn
        weight = 0
      }
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  lifecycle {
    ignore_changes = [action]
  }

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "test" {
  count             = var.progressive ? max(1, length(var.test_cidrs)) : 0
  security_group_id = aws_security_group.alb.id
  description       = "The test listener: the new revision before production traffic moves"
  cidr_ipv4         = length(var.test_cidrs) == 0 ? data.aws_vpc.this.cidr_block : var.test_cidrs[count.index]
  ip_protocol       = "tcp"
  from_port         = var.test_port
  to_port           = var.test_port
}

# The targets' 5xx answers: name it in the target's `rollout.alarms` and ECS rolls a
# deployment back when it fires ("How CloudWatch alarms detect Amazon ECS deployment
# failures"). Over both target groups: ECS swaps their roles from one deployment to the
# next, so an alarm on the alternate one alone would watch the old revision every other
# time.
resource "aws_cloudwatch_metric_alarm" "new_revision_5xx" {
  count               = local.progressive
  alarm_name          = "${var.name}-new-revision-5xx"
  alarm_description   = "5xx answers of the service's targets (both target groups) while a deployment runs"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
  }

  tags = var.tags
}
