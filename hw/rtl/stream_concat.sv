// stream_concat: FINN StreamingConcat of two streams along channels (ReActNet's reduction
// block): per vector, CF0 words from in0 then CF1 words from in1, SIMD lanes each, every
// element re-encoded from its input type into the OBITS output type.
module stream_concat #(
    parameter int SIMD   = 2,
    parameter int CF0    = 2,   // words per vector from in0 (channels / SIMD)
    parameter int CF1    = 2,
    parameter int IBITS0 = 4,
    parameter int IKIND0 = 0,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int IBITS1 = 4,
    parameter int IKIND1 = 0,
    parameter int OBITS  = 4
) (
    input  logic                   ap_clk,
    input  logic                   ap_rst_n,
    input  logic [SIMD*IBITS0-1:0] in0_V_TDATA,
    input  logic                   in0_V_TVALID,
    output logic                   in0_V_TREADY,
    input  logic [SIMD*IBITS1-1:0] in1_V_TDATA,
    input  logic                   in1_V_TVALID,
    output logic                   in1_V_TREADY,
    output logic [SIMD*OBITS-1:0]  out0_V_TDATA,
    output logic                   out0_V_TVALID,
    input  logic                   out0_V_TREADY
);
    localparam int FW = $clog2(CF0 + CF1);

    logic [FW-1:0]        f;
    logic                 en, first, fire;
    logic [SIMD*OBITS-1:0] data;

    assign first        = f < FW'(CF0);
    assign in0_V_TREADY = en && first;
    assign in1_V_TREADY = en && !first;
    assign fire         = first ? in0_V_TVALID && in0_V_TREADY : in1_V_TVALID && in1_V_TREADY;

    for (genvar p = 0; p < SIMD; p++) begin : g_lane
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [IBITS0:0] a;   // re-encoded into the low OBITS
        logic signed [IBITS1:0] b;
        /* verilator lint_on UNUSEDSIGNAL */
        operand_decode #(.BITS(IBITS0), .KIND(IKIND0)) u_a (.raw(in0_V_TDATA[p*IBITS0 +: IBITS0]), .value(a));
        operand_decode #(.BITS(IBITS1), .KIND(IKIND1)) u_b (.raw(in1_V_TDATA[p*IBITS1 +: IBITS1]), .value(b));
        assign data[p*OBITS +: OBITS] = first ? OBITS'(a) : OBITS'(b);
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) f <= '0;
        else if (fire) f <= f == FW'(CF0 + CF1 - 1) ? '0 : f + 1'b1;
    end

    skid_buffer #(.W(SIMD*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(data), .in_valid(first ? in0_V_TVALID : in1_V_TVALID), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
