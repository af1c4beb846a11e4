"""One run: plan -> steady -> inject -> observe -> rollback -> grade."""
