"""The kubelet's CRI v1 client: ``api.proto`` (pyk8s' subset of the upstream schema), its
generated modules ``api_pb2``/``api_pb2_grpc`` (see README.md for how to regenerate them)
and ``client.CRIClient``, a gRPC channel to a runtime's unix socket."""
