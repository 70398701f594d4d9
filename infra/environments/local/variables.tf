variable "endpoint" {
  description = "The local AWS (moto) every AWS API call goes to, e.g. http://127.0.0.1:5000 (`make up` passes it)."
  type        = string
}

variable "package_dir" {
  description = "Folder with `<function>/bootstrap.zip`. Locally the emulator stores the functions but `cargo lambda watch` runs them, so `make up` zips the debug binaries here."
  type        = string
}

variable "architecture" {
  description = "Architecture of the zips in package_dir (the debug binaries are the machine's own)."
  type        = string
  default     = "x86_64"
}
