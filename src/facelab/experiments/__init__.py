"""Experiments that train several models the same way and rank them on a leaderboard.

- :mod:`.compare`: ``facelab compare`` — several models, one split, one seed, one budget.
- :mod:`.search`: ``facelab search`` — an Optuna search over one model's hyperparameters.

The board itself (:class:`~facelab.evaluate.leaderboard.Leaderboard`, finding and loading boards)
lives in :mod:`facelab.evaluate.leaderboard`, so that surfaces can show boards without importing
training. This package sits above ``train`` and ``evaluate``: nothing in the library imports it.
"""
