"""People in the loop of a drill: marks, the runbook checklist, held faults."""
