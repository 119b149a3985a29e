"""The API's routes: ``predict`` (one image, a batch) and ``info`` (models, health)."""
