"""Hardware: SystemVerilog sources (rtl/), RTL generator, stitcher, Verilator simulation."""
