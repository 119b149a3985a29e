"""Scale-out: the same prepare, label statistics and batch prediction on Spark, and training on
several processes with torch DDP (see docs/scale.md and docs/architecture.md).

Modules: :mod:`~facelab.scale.spark` (the session), :mod:`~facelab.scale.prepare`,
:mod:`~facelab.scale.stats`, :mod:`~facelab.scale.predict`, :mod:`~facelab.scale.ddp`. pyspark is
imported only when a Spark path runs: this package imports without it.
"""
