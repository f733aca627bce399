"""Renderers: each a pure function of a ScanResult to bytes."""
