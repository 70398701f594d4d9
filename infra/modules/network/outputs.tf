output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "One public subnet per availability zone (the ALB's)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "One private subnet per availability zone (the tasks')."
  value       = aws_subnet.private[*].id
}

output "nat_gateway_ids" {
  description = "The NAT gateways: one, or one per availability zone."
  value       = aws_nat_gateway.this[*].id
}
