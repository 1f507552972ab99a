"""Postgres: the engine, the models and one data-access module per table."""
