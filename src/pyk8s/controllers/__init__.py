"""pyk8s.controllers."""
