// rom: read-only parameter memory (weights, thresholds) initialised by $readmemh, one
// registered read per cycle so that Yosys/Vivado can infer block RAM, UltraRAM or LUT memory.
// STYLE "ultra" (Vivado ram_style "ultra", UltraScale+ URAM288): UltraRAM has no bitstream initialisation (UG901:
// it powers up zero; Yosys's URAM mapping has "init zero", so Yosys leaves an initialised rom off URAM), so on
// hardware its contents must be written at run time before use; in simulation $readmemh loads it.
module rom #(
    parameter int    DEPTH     = 16,
    parameter int    W         = 8,
    parameter string INIT_FILE = "",
    parameter string STYLE     = "auto",  // "auto", "block", "distributed" or "ultra"
    parameter int    COLUMN    = 0        // "block" only: memories of COLUMN bits side by side, INIT_FILE_c<k>.mem each
) (
    input  logic                             clk,
    input  logic                             en,
    input  logic [$clog2(DEPTH > 1 ? DEPTH : 2)-1:0] addr,
    output logic [W-1:0]                     data
);
    if (STYLE == "block" && COLUMN > 0) begin : g_columns
        // one block RAM deep each (COLUMN: the widest RAMB36 shape of DEPTH words), so no LUT read mux joins them
        for (genvar k = 0; k < (W + COLUMN - 1) / COLUMN; k++) begin : g_col
            localparam int LO = k * COLUMN;
            localparam int CW = LO + COLUMN <= W ? COLUMN : W - LO;
            (* ram_style = "block" *) logic [CW-1:0] mem [0:DEPTH-1];
            initial $readmemh($sformatf("%s_c%0d.mem", INIT_FILE, k), mem);
            always_ff @(posedge clk) if (en) data[LO +: CW] <= mem[addr];
        end
    end else if (STYLE == "block") begin : g_block
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
