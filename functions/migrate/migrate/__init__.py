"""MigrateFunction: applies the database migrations when the stack deploys."""
