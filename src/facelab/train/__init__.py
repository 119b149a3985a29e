"""Training, evaluation and comparison: ``train(data, target=...) -> Run`` (see ``trainer.py``).

``facelab.train`` is both this package and the public function (see ``facelab/_callable.py``).
"""
from .._callable import make_callable

make_callable(__name__, "trainer", "train")
