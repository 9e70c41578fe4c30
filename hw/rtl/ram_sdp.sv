// ram_sdp: simple dual-port RAM, one write and one registered read per cycle, so that
// Yosys/Vivado infer block RAM or LUT RAM for line buffers.
module ram_sdp #(
    parameter int    DEPTH = 16,
    parameter int    W     = 8,
    parameter string STYLE = "auto"   // "auto", "block" or "distributed"
) (
    input  logic                                     clk,
    input  logic                                     wr_en,
    input  logic [$clog2(DEPTH > 1 ? DEPTH : 2)-1:0] wr_addr,
    input  logic [W-1:0]                             wr_data,
    input  logic                                     rd_en,
    input  logic [$clog2(DEPTH > 1 ? DEPTH : 2)-1:0] rd_addr,
    output logic [W-1:0]                             rd_data
);
    if (STYLE == "block") begin : g_block
        (* ram_style = "block" *) logic [W-1:0] mem [0:DEPTH-1];
        always_ff @(posedge clk) if (wr_en) mem[wr_addr] <= wr_data;
        always_ff @(posedge clk) if (rd_en) rd_data <= mem[rd_addr];
    end else if (STYLE == "distributed") begin : g_dist
        (* ram_style = "distributed" *) logic [W-1:0] mem [0:DEPTH-1];
        always_ff @(posedge clk) if (wr_en) mem[wr_addr] <= wr_data;
        always_ff @(posedge clk) if (rd_en) rd_data <= mem[rd_addr];
    end else begin : g_auto
        logic [W-1:0] mem [0:DEPTH-1];
        always_ff @(posedge clk) if (wr_en) mem[wr_addr] <= wr_data;
        always_ff @(posedge clk) if (rd_en) rd_data <= mem[rd_addr];
    end
endmodule
