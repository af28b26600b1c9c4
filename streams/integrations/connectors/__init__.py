"""Live connectors: each tool's thin client, the shared HTTP rules, and the sync that writes
through the import writer."""
