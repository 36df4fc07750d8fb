"""The hub's store: SQLAlchemy 2 async models, engine factory, migrations, queries."""
