"""Injectors apply rules: ``gateway`` (embedded, localstack) and, for real accounts, ``fis``."""
