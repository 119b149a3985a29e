# Apache Spark 4 (Java 17, Python 3) with facelab and its spark extra, CPU-only torch.
# Used by deploy/docker-compose.yml for the master, the workers and (optionally) the driver.
FROM apache/spark:4.0.1-python3
USER root
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN pip install --no-cache-dir "/src[spark,onnx]"
ENV PYSPARK_PYTHON=python3 OMP_NUM_THREADS=1
USER spark
