"""Credit's use cases (application layer): load state through adapters, decide with domain/, store."""
