// rom: read-only parameter memory (weights, thresholds) initialised by $readmemh, one
// registered read per cycle so that Yosys/Vivado can infer block RAM, UltraRAM or LUT memory.
// STYLE "ultra" (Vivado ram_style "ultra", UltraScale+ URAM288): UltraRAM has no bitstream initialisation (UG901:
// it powers up zero; Yosys's URAM mapping has "init zero", so Yosys leaves an initialised rom off URAM), so on
// hardware its contents must be written at run time before use; in simulation $readmemh loads it.
module rom #(
    parameter int    DEPTH     = 16,
    parameter int    W         = 8,
    parameter string INIT_FILE = "",
    parameter string STYLE     = "auto"   // "auto", "block", "distributed" or "ultra"
) (
    input  logic                             clk,
    input  logic                             en,
    input  logic [$clog2(DEPTH > 1 ? DEPTH : 2)-1:0] addr,
    output logic [W-1:0]                     data
);
    if (STYLE == "block") begin : g_block
        (* ram_style = "block" *) logic [W-1:0] mem [0:DEPTH-1];
        initial $readmemh(INIT_FILE, mem);
        always_ff @(posedge clk) if (en) data <= mem[addr];
    end else if (STYLE == "ultra") begin : g_ultra
        (* ram_style = "ultra" *) logic [W-1:0] mem [0:DEPTH-1];
        initial $readmemh(INIT_FILE, mem);
        always_ff @(posedge clk) if (en) data <= mem[addr];
    end else if (STYLE == "distributed") begin : g_dist
        // LUTs as ROM logic ("distributed" has no ROM mapping in Yosys's xc7 library)
        (* rom_style = "logic" *) logic [W-1:0] mem [0:DEPTH-1];
        initial $readmemh(INIT_FILE, mem);
        always_ff @(posedge clk) if (en) data <= mem[addr];
    end else begin : g_auto
        logic [W-1:0] mem [0:DEPTH-1];
        initial $readmemh(INIT_FILE, mem);
        always_ff @(posedge clk) if (en) data <= mem[addr];
    end
endmodule
