"""A run on the models volume: its folder layout (`RunPaths`), its typed record (`RunManifest`), and the
whole-or-nothing file writes every stage uses."""
