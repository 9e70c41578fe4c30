// thresholding: standalone FINN Thresholding (MultiThreshold) layer, PE channels per cycle:
// output = number of the channel's NTHRES thresholds that the input reaches + ACTVAL, found by
// threshold_search's pipelined binary search (K = $clog2(NTHRES + 1) cycles, one word per cycle).
// Ours because finn-rtllib's thresholding_axi fails Yosys synthesis for NTHRES >= 2.
module thresholding #(
    parameter int    C            = 16,  // channels (FINN NumChannels)
    parameter int    PE           = 4,
    parameter int    IBITS        = 8,
    parameter int    IKIND        = 1,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int    TBITS        = 10,  // signed width of thresholds (> IBITS)
    parameter int    NTHRES       = 3,
    parameter int    OBITS        = 2,
    parameter int    ACTVAL       = 0,
    parameter string THRESH_FILE  = "thresholds",  // threshold_search's FILE
    parameter bit    THRESH_SHARED = 0,            // threshold_search's SHARED: one row for all channels
    parameter string THRESH_STYLE = "auto"
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [PE*IBITS-1:0] in0_V_TDATA,
    input  logic                in0_V_TVALID,
    output logic                in0_V_TREADY,
    output logic [PE*OBITS-1:0] out0_V_TDATA,
    output logic                out0_V_TVALID,
    input  logic                out0_V_TREADY
);
    localparam int CF = C / PE;

    logic                              en, valid_s1, out_valid;
    logic [$clog2(CF > 1 ? CF : 2)-1:0] cf;
    logic [PE*IBITS-1:0]               x_s1;
    logic [PE*TBITS-1:0]               values;
    logic [PE*OBITS-1:0]               result;

    assign in0_V_TREADY = en;

    channel_fold #(.CF(CF)) u_fold (.clk(ap_clk), .rst_n(ap_rst_n), .en(en), .in_valid(in0_V_TVALID),
                                    .cf(cf), .valid_s1(valid_s1));
    always_ff @(posedge ap_clk) if (en && in0_V_TVALID) x_s1 <= in0_V_TDATA;

    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic signed [IBITS:0] value;
        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_dec (.raw(x_s1[p*IBITS +: IBITS]), .value(value));
        assign values[p*TBITS +: TBITS] = TBITS'(value);
    end

    threshold_search #(.PE(PE), .CF(CF), .VW(TBITS), .NTHRES(NTHRES), .OBITS(OBITS), .ACTVAL(ACTVAL),
                       .SHARED(THRESH_SHARED), .FILE(THRESH_FILE), .STYLE(THRESH_STYLE)) u_search (
        .clk(ap_clk), .rst_n(ap_rst_n), .en(en), .rd(in0_V_TVALID), .fold(cf),
        .in_valid(valid_s1), .value(values), .out_valid(out_valid), .result(result));

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(result), .in_valid(out_valid), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
