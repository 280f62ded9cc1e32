# Divisions are public. Scopes of names, addresses and batches are declared here as they come.
