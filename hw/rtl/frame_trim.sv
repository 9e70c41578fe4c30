// frame_trim: per frame, pass the first KEEP words of a stream and drop the rest up to TOTAL (the zero padding
// that makes a frame in DDR whole AXI beats); ours, for the shell between the read DMA and the core.
module frame_trim #(
    parameter int W     = 8,
    parameter int KEEP  = 1,   // words per frame passed on
    parameter int TOTAL = 1    // words per frame in, KEEP <= TOTAL
) (
    input  logic         ap_clk,
    input  logic         ap_rst_n,
    input  logic [W-1:0] in0_V_TDATA,
    input  logic         in0_V_TVALID,
    output logic         in0_V_TREADY,
    output logic [W-1:0] out0_V_TDATA,
    output logic         out0_V_TVALID,
    input  logic         out0_V_TREADY
);
    localparam int CW = $clog2(TOTAL + 1);

    logic [CW-1:0] idx;
    logic          keep;

    assign keep          = idx < CW'(KEEP);
    assign out0_V_TDATA  = in0_V_TDATA;
    assign out0_V_TVALID = in0_V_TVALID && keep;
    assign in0_V_TREADY  = out0_V_TREADY || !keep;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) idx <= '0;
        else if (in0_V_TVALID && in0_V_TREADY) idx <= idx == CW'(TOTAL - 1) ? '0 : idx + 1'b1;
    end
endmodule
