"""RLHF Playground's library: the world, models, losses, trainers, evaluation and the CLI.

Nothing here imports Streamlit; ``pages/`` only lays out widgets and calls into this package.
"""

__version__ = "0.1.0"
