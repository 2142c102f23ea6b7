"""Plain data shared by every layer: settings read from the environment and their table, the instance view."""
