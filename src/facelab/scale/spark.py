"""A Spark session for facelab's scale-out paths, with clear errors when Spark cannot start.

pyspark comes from the ``spark`` extra (``pip install 'facelab[spark]'``) and needs a Java 17+
runtime. Both are checked before Spark is touched, so a missing piece is one message naming what
to install instead of a JVM stack trace. pyspark is imported here, lazily: ``facelab.scale``
itself imports without it.

The master comes from the ``master`` argument, else ``$FACELAB_SPARK_MASTER``, else
``local[2]`` (two cores on this machine). Under ``spark-submit`` the session that spark-submit
configured is reused as it is.

Example: docs/python.md#scale-out.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError, DataError

DEFAULT_MASTER = "local[2]"
JAVA_FIX = ("install a Java 17 runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; "
            "macOS: brew install openjdk@17) or point JAVA_HOME at one")


def require_pyspark():
    """Import pyspark or raise a ConfigError naming the extra to install."""
    try:
        import pyspark
    except ImportError:
        raise ConfigError("--engine spark needs pyspark, which is not installed",
                          fix="pip install 'facelab[spark]' (and a Java 17 runtime)") from None
    return pyspark


def java_version() -> tuple[str, int]:
    """The ``java`` Spark would start (JAVA_HOME first, then PATH) and its major version.

    Raises:
        ConfigError: no Java, or one older than 17 (Spark 4 needs 17; Spark 3.5 runs on 8-17).
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").is_file() else shutil.which("java")
    if not java:
        raise ConfigError("Spark needs Java, and no `java` was found (JAVA_HOME unset, none on PATH)",
                          fix=JAVA_FIX)
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"cannot run {java}: {e}", path=java, fix=JAVA_FIX) from None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(m.group(1)) if m else 0
    if major == 1 and m and m.group(2):  # "1.8.0_392" is Java 8
        major = int(m.group(2))
    return java, major


def _check_java() -> None:
    import pyspark

    java, major = java_version()
    need = 17 if int(pyspark.__version__.split(".")[0]) >= 4 else 8
    if major < need:
        raise ConfigError(f"pyspark {pyspark.__version__} needs Java {need} or newer; {java} is Java {major or '?'}",
                          path=java, fix=JAVA_FIX)


def get_spark(master: str | None = None, *, app: str = "facelab", conf: dict | None = None):
    """Return the active SparkSession, or start one on ``master``.

    Args:
        master: ``local[N]``, ``spark://host:7077``, ``yarn``, ... (default: the running session's,
            else ``$FACELAB_SPARK_MASTER``, else ``local[2]``).
        app: the application name shown in Spark's UI.
        conf: extra Spark settings for a new session.

    Raises:
        ConfigError: pyspark or Java missing, or Spark failing to start (the message says why).
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and (master is None or active.sparkContext.master == master):
        return active
    if active is not None:
        active.stop()  # another master was asked for
    _check_java()
    import facelab

    # executors are Python processes started by Spark: they must import *this* facelab, even
    # from a source checkout that is not installed. They get it through the session's executor
    # environment; this process's environment is left as it is.
    src_root = str(Path(facelab.__file__).resolve().parents[1])
    pypath = os.pathsep.join(p for p in (src_root, os.environ.get("PYTHONPATH")) if p)
    master = master or os.environ.get("FACELAB_SPARK_MASTER") or DEFAULT_MASTER
    b = (SparkSession.builder.master(master)
         .appName(app)
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", "8")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true")
         .config("spark.executorEnv.PYTHONPATH", pypath)
         .config("spark.executorEnv.OMP_NUM_THREADS", "1")
         .config("spark.python.worker.reuse", "true"))
    if master.startswith("local") and not os.environ.get("SPARK_LOCAL_IP"):
        # local mode needs no network address
        b = b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    try:
        spark = b.getOrCreate()
    except Exception as e:  # the JVM failed to start: its message is the useful part
        raise ConfigError(f"Spark could not start on {master}: {str(e).splitlines()[0][:300]}",
                          fix="check Java 17 (`java -version`), JAVA_HOME and the --master URL") from None
    spark.sparkContext.setLogLevel("ERROR")
    if not os.environ.get("PYSPARK_PYTHON"):
        # the Python that runs the UDFs: this interpreter (with numpy, torch...), not the first
        # `python3` on PATH; pyspark reads it from the context when a UDF is made
        spark.sparkContext.pythonExec = sys.executable
    return spark


def write_results(table, out: Path, *, job: str, fix: str) -> None:
    """Write a Spark DataFrame as Parquet to ``out`` (already passed the write guard): into
    ``<out>.partial`` first, then renamed and marked, so a failed job never leaves a results folder
    that looks whole. Whatever the JVM or an executor raised becomes one :class:`DataError`."""
    from ..outputs import mark_folder

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        table.write.mode("overwrite").parquet(str(partial))
    except Exception as e:  # the Spark job: any JVM or executor error
        shutil.rmtree(partial, ignore_errors=True)
        msg = next((m for m in str(e).splitlines() if "Error" in m), str(e).splitlines()[0] if str(e) else repr(e))
        raise DataError(f"the Spark {job} job failed: {msg[:400]}", path=out, fix=fix) from None
    if out.exists():  # an earlier facelab result (the write guard refused anything else)
        shutil.rmtree(out)
    os.replace(partial, out)
    mark_folder(out, "Spark results folder")


def check_engine(engine: str | None) -> str:
    """Normalise an ``engine`` keyword: ``local`` (default) or ``spark``.

    Example:
        >>> check_engine(None), check_engine("Spark")
        ('local', 'spark')
    """
    e = (engine or "local").strip().lower()
    if e not in ("local", "spark"):
        raise ConfigError(f"unknown engine {engine!r}", fix="use --engine local or --engine spark")
    return e
