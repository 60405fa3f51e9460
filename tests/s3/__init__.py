"""Tests against a real S3 endpoint (SeaweedFS on loopback)."""
