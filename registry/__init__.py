"""Needle Registry: dry-needling scope-of-practice rules for US clinics."""

from registry.app import create_app

__all__ = ["create_app"]
