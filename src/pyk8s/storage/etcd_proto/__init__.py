"""Generated protobuf/gRPC modules for the subset of etcd's v3 API pyk8s uses (see
README.md for how to regenerate them)."""
