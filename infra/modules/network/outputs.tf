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

output "cidr_block" {
  description = "The VPC's IPv4 range."
  value       = aws_vpc.this.cidr_block
}

output "nat_public_ips" {
  description = "The NAT gateways' public addresses: what an internet-facing load balancer in this VPC sees as the source of a call from the private subnets (it goes out through NAT and back in)."
  value       = aws_eip.nat[*].public_ip
}
