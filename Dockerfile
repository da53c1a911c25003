# One image for every searchsvc service: the MLflow server, the Ray head and the Ray workers, CPU or GPU.
# The same Python, Ray and searchsvc in each; only the torch build differs:
#   CPU (default):  docker build .
#   GPU workers:    docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir torch==2.13.0 --index-url ${TORCH_INDEX}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY searchsvc searchsvc
COPY experiments experiments
COPY analysis analysis
RUN pip install --no-cache-dir . && mkdir -p /searchsvc /mlartifacts
ENV SEARCHSVC_HOME=/searchsvc
