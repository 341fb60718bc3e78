"""tunebench: the shared contract imported by every stage (train, evaluate, serve).

What two stages must agree on lives here once: how rows become chat messages, the text-to-SQL
prompt, the chat template, the paths on the models volume, safe SQL execution and the embedded
tiny model and dataset used for CPU runs.
"""

__version__ = "0.1.0"
