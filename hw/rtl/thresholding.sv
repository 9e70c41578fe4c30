// thresholding: standalone FINN Thresholding (MultiThreshold) layer, PE channels per cycle:
// output = number of the channel's NTHRES thresholds that the input reaches + ACTVAL.
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
    parameter string THRESH_FILE  = "thresholds.mem",
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
    localparam int CF  = C / PE;
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;

    logic                        en, accept, valid_s1;
    logic [CFW-1:0]              cf;
    logic [PE*IBITS-1:0]         x_s1;
    logic [PE*NTHRES*TBITS-1:0]  thr_s1;
    logic [PE*OBITS-1:0]         result;

    assign in0_V_TREADY = en;
    assign accept       = en && in0_V_TVALID;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            cf       <= '0;
            valid_s1 <= 1'b0;
        end else begin
            if (accept) cf <= cf == CFW'(CF - 1) ? '0 : cf + 1'b1;
            if (en) valid_s1 <= in0_V_TVALID;
        end
    end
    always_ff @(posedge ap_clk) if (accept) x_s1 <= in0_V_TDATA;

    rom #(.DEPTH(CF), .W(PE*NTHRES*TBITS), .INIT_FILE(THRESH_FILE), .STYLE(THRESH_STYLE))
        u_thresholds (.clk(ap_clk), .en(accept), .addr(cf), .data(thr_s1));

    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic signed [IBITS:0] value;
        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_dec (.raw(x_s1[p*IBITS +: IBITS]), .value(value));
        threshold_unit #(.N(NTHRES), .VW(TBITS), .OBITS(OBITS), .ACTVAL(ACTVAL)) u_thr (
            .value(TBITS'(value)),
            .thresholds(thr_s1[p*NTHRES*TBITS +: NTHRES*TBITS]),
            .result(result[p*OBITS +: OBITS]));
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(result), .in_valid(valid_s1), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
