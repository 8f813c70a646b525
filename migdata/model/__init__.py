"""The tidy household model: code lists, schema, validation, import report and dataset store."""
