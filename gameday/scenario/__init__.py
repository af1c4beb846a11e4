"""The scenario format (gameday/v1): models, YAML loading with line numbers, JSON Schema."""
