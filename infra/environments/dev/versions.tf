terraform {
  required_version = ">= 1.5"

  # State in S3 with locking (README, "Bootstrap"): terraform init -backend-config=backend.hcl
  backend "s3" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}
