"""Curating a dataset before training on it: ``facelab data review`` (:mod:`.review`).

A package of its own beside :mod:`facelab.data` because it uses the face detector and saved runs,
and ``data`` imports nothing above it.
"""
