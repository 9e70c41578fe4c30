// duplicate_streams: FINN DuplicateStreams with two outputs (the fork of a shortcut). A word
// leaves on both outputs in the same cycle; each output has its own skid buffer, so a short
// stall on one branch does not stop the other until its buffer fills.
module duplicate_streams #(
    parameter int W = 8   // stream word bits (PE x element bits)
) (
    input  logic         ap_clk,
    input  logic         ap_rst_n,
    input  logic [W-1:0] in0_V_TDATA,
    input  logic         in0_V_TVALID,
    output logic         in0_V_TREADY,
    output logic [W-1:0] out0_V_TDATA,
    output logic         out0_V_TVALID,
    input  logic         out0_V_TREADY,
    output logic [W-1:0] out1_V_TDATA,
    output logic         out1_V_TVALID,
    input  logic         out1_V_TREADY
);
    logic en0, en1;

    assign in0_V_TREADY = en0 && en1;

    skid_buffer #(.W(W)) u_out0 (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(in0_V_TDATA), .in_valid(in0_V_TVALID && in0_V_TREADY), .in_ready(en0),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
    skid_buffer #(.W(W)) u_out1 (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(in0_V_TDATA), .in_valid(in0_V_TVALID && in0_V_TREADY), .in_ready(en1),
        .out_data(out1_V_TDATA), .out_valid(out1_V_TVALID), .out_ready(out1_V_TREADY));
endmodule
