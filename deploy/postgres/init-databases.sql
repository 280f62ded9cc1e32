-- One database per service (each service owns its data, and no service reads another's).
-- Run by the postgres image once, on an empty data directory only; the migrate jobs create the tables.
CREATE DATABASE eldercare;
CREATE DATABASE assistance;
CREATE DATABASE charity;
CREATE DATABASE placenames;
-- The gateway's own: staff accounts, OAuth clients, refresh tokens.
CREATE DATABASE gateway;
