# facelab REST API: serves runs trained by `facelab train`, mounted read-only at /runs.
#
#   docker build -t facelab-serve .
#   docker run --rm -p 8000:8000 -v "$PWD/runs:/runs:ro" facelab-serve              # every run in ./runs
#   docker run --rm -p 8000:8000 -v "$PWD/runs:/runs:ro" facelab-serve smiling-cnn  # named runs
#
# CPU only: torch comes from the CPU wheel index (the default index would pull the multi-GB CUDA build).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# onnx: `--backend auto` serves with ONNX Runtime (runs mounted read-only export to $FACELAB_HOME/onnx)
RUN pip install ".[serve,onnx]"

FROM python:3.11-slim
# libgomp: OpenMP for torch's CPU kernels; nothing else native is needed by the headless OpenCV wheel.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 facelab
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    FACELAB_RUNS=/runs \
    FACELAB_HOME=/home/facelab/.facelab \
    OMP_NUM_THREADS=1 \
    PYTHONUNBUFFERED=1
USER facelab
WORKDIR /home/facelab
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4).status == 200 else 1)"
# Run names given to `docker run` are appended (none: every run found in /runs).
ENTRYPOINT ["facelab", "serve", "--host", "0.0.0.0", "--port", "8000", "--runs-dir", "/runs"]
CMD []
