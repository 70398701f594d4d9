output "dns_name" {
  description = "The load balancer's DNS name."
  value       = aws_lb.this.dns_name
}

output "arn" {
  description = "The load balancer's ARN."
  value       = aws_lb.this.arn
}

output "security_group_id" {
  description = "The load balancer's security group (the tasks allow their port from it)."
  value       = aws_security_group.alb.id
}

output "target_group_arn" {
  description = "The target group the service registers in."
  value       = aws_lb_target_group.app.arn
}

output "certificate_arn" {
  description = "The ACM certificate of the HTTPS listener."
  value       = aws_acm_certificate.this.arn
}

output "certificate_validation_records" {
  description = "DNS records that validate the certificate (create them yourself when no zone is given)."
  value       = aws_acm_certificate.this.domain_validation_options
}

output "deletion_protection" {
  description = "Whether the load balancer refuses deletion."
  value       = aws_lb.this.enable_deletion_protection
}

output "progressive" {
  description = "With progressive: what a target's `rollout.load_balancer` names (null otherwise): the alternate target group, the production and test listener rules, the test URL, and the new revision's 5xx alarm."
  value = var.progressive ? {
    target_group_arn           = aws_lb_target_group.app.arn
    alternate_target_group_arn = aws_lb_target_group.alternate[0].arn
    production_listener_rule   = aws_lb_listener_rule.shift["production"].arn
    test_listener_rule         = aws_lb_listener_rule.shift["test"].arn
    test_url                   = "https://${var.domain_name}:${var.test_port}/"
    alarm_name                 = aws_cloudwatch_metric_alarm.new_revision_5xx[0].alarm_name
  } : null
}
