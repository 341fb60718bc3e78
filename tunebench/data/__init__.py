"""Datasets as chat `messages`: the SFT formats (errors name the file, row and field), Spider-format
folders, the held-out split training leaves out and evaluation scores, and JSONL with line numbers."""
