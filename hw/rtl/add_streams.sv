// add_streams: FINN ElementwiseAdd of two integer streams (the residual join of a shortcut),
// PE lanes per word; each operand is decoded from its FINN type (unsigned, signed, bipolar) and
// the sum leaves as an OBITS two's-complement value, the output type FINN derives.
module add_streams #(
    parameter int PE    = 2,
    parameter int ABITS = 8,
    parameter int AKIND = 1,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int BBITS = 8,
    parameter int BKIND = 1,
    parameter int OBITS = 9
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [PE*ABITS-1:0] in0_V_TDATA,
    input  logic                in0_V_TVALID,
    output logic                in0_V_TREADY,
    input  logic [PE*BBITS-1:0] in1_V_TDATA,
    input  logic                in1_V_TVALID,
    output logic                in1_V_TREADY,
    output logic [PE*OBITS-1:0] out0_V_TDATA,
    output logic                out0_V_TVALID,
    input  logic                out0_V_TREADY
);
    localparam int SW = (ABITS > BBITS ? ABITS : BBITS) + 2;

    logic                en;
    logic [PE*OBITS-1:0] sum;

    assign in0_V_TREADY = en && in1_V_TVALID;
    assign in1_V_TREADY = en && in0_V_TVALID;

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [ABITS:0] a;
        logic signed [BBITS:0] b;
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [SW-1:0]  s;   // the output keeps its low OBITS
        /* verilator lint_on UNUSEDSIGNAL */
        operand_decode #(.BITS(ABITS), .KIND(AKIND)) u_a (.raw(in0_V_TDATA[p*ABITS +: ABITS]), .value(a));
        operand_decode #(.BITS(BBITS), .KIND(BKIND)) u_b (.raw(in1_V_TDATA[p*BBITS +: BBITS]), .value(b));
        assign s = SW'(a) + SW'(b);
        assign sum[p*OBITS +: OBITS] = OBITS'(s);
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(sum), .in_valid(in0_V_TVALID && in1_V_TVALID), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
