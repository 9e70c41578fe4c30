// frame_pad: per frame, pass KEEP words of a stream, then send zero words up to TOTAL, so that a frame in DDR
// is whole AXI beats; ours, for the shell between the core and the write DMA.
module frame_pad #(
    parameter int W     = 8,
    parameter int KEEP  = 1,   // words per frame taken in
    parameter int TOTAL = 1    // words per frame out, KEEP <= TOTAL
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
    logic          pass;

    assign pass          = idx < CW'(KEEP);
    assign out0_V_TDATA  = pass ? in0_V_TDATA : '0;
    assign out0_V_TVALID = in0_V_TVALID || !pass;
    assign in0_V_TREADY  = out0_V_TREADY && pass;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) idx <= '0;
        else if (out0_V_TVALID && out0_V_TREADY) idx <= idx == CW'(TOTAL - 1) ? '0 : idx + 1'b1;
    end
endmodule
