"""The prompt templates (YAML) the reader sends to the model; shipped as package data."""
