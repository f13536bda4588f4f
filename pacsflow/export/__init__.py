"""Exporting selected studies (files, tables, manifest) to a folder a research team receives."""
