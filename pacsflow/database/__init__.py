"""The database wing: models, migrations, engines, sessions, upserts, data access, dumps."""
