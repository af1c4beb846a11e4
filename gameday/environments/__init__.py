"""Where faults land: embedded, localstack, aws."""
