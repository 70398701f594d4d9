variable "name" {
  description = "The repository's name, e.g. `app`."
  type        = string
}

variable "keep_tagged_images" {
  description = "How many tagged images to keep (the newest); older ones expire. Rollbacks can only go to images still here."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_tagged_images >= 2
    error_message = "Keep at least 2 tagged images, or there is nothing to roll back to."
  }
}

variable "untagged_expire_days" {
  description = "Days after which untagged images (superseded layers of re-pushed tags, failed pushes) expire."
  type        = number
  default     = 1
}

variable "kms_key_arn" {
  description = "KMS key for image encryption at rest (null: the AWS-managed ECR key)."
  type        = string
  default     = null
}

variable "force_delete" {
  description = "Let `terraform destroy` delete the repository with its images (throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource; must include Project and Environment."
  type        = map(string)
}
