"""Live collection from Azure through the official SDK clients (Resource Graph, Defender, Key Vault, ARM)."""
