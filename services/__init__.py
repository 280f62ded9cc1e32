"""The four domain services. Each owns its database and is reached only through its public HTTP API."""

# name -> default port
SERVICES = {"eldercare": 8001, "assistance": 8002, "charity": 8003, "placenames": 8004}
