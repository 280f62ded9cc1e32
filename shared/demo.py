"""Dev and test only: the demo resident, one person whichever way they sign in.

The gateway's seed gives the account of the demo phone this subject, the dev tokens' demo resident carries
it, and the services' demo data (eldercare's care links) name it. Like every resident's subject it is opaque:
the phone number never reaches a token or another service's records.
"""

DEMO_RESIDENT_PHONE = "13800000001"
DEMO_RESIDENT_SUBJECT = "resident:demo-family"
