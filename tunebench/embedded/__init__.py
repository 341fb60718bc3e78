"""The embedded default: a tiny model and a text-to-SQL dataset that tunebench builds itself,
so the whole chain runs on a CPU with no network."""
