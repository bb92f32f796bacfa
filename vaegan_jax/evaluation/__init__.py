"""Offline scoring: the held-out modes and the published protocols, the
classical baselines, pixel metrics (`metrics`), and the metric networks
(Inception for FID/KID, LPIPS) with their weight readers."""
