// xnor_mvu: binary XNOR-popcount matrix-vector unit, FINN MVAU with binaryXnorMode=1:
// each output channel counts the input bits that agree with its weight bits, then either
// streams the count (NTHRES = 0, noActivation) or thresholds it. Folded by PE and SIMD,
// one SIMD x PE fold per cycle. Ours because finn-rtllib has no 1-bit XNOR MVU.
module xnor_mvu #(
    parameter int    MW           = 64,
    parameter int    MH           = 16,
    parameter int    PE           = 4,
    parameter int    SIMD         = 32,
    parameter int    ACCBITS      = 8,   // signed width of counts and thresholds
    parameter int    NTHRES       = 1,   // 0 = no activation
    parameter int    OBITS        = 1,
    parameter int    ACTVAL       = 0,
    parameter string WEIGHT_FILE  = "weights.mem",
    parameter string THRESH_FILE  = "thresholds",
    parameter bit    THRESH_SHARED = 0,  // one threshold row for all channels (threshold_search's SHARED)
    parameter string WEIGHT_STYLE = "auto",
    parameter int    WEIGHT_COLUMN = 0,
    parameter string THRESH_STYLE = "auto"
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [SIMD-1:0]     in0_V_TDATA,
    input  logic                in0_V_TVALID,
    output logic                in0_V_TREADY,
    output logic [PE*OBITS-1:0] out0_V_TDATA,
    output logic                out0_V_TVALID,
    input  logic                out0_V_TREADY
);
    // weights from the rom (WEIGHT_FILE); a layer that streams its weights (FINN's mem_mode
    // "external") instantiates mvu_core itself with WEIGHT_SOURCE "stream"
    wire  [PE*SIMD-1:0] in1_V_TDATA  = '0;
    wire  in1_V_TVALID = 1'b0;
    /* verilator lint_off UNUSEDSIGNAL */
    logic in1_V_TREADY;
    /* verilator lint_on UNUSEDSIGNAL */

    mvu_core #(
        .MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .XNOR(1'b1), .IBITS(1), .WBITS(1),
        .ACCBITS(ACCBITS), .NTHRES(NTHRES), .OBITS(OBITS), .ACTVAL(ACTVAL),
        .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE), .THRESH_SHARED(THRESH_SHARED),
        .WEIGHT_STYLE(WEIGHT_STYLE), .WEIGHT_COLUMN(WEIGHT_COLUMN), .THRESH_STYLE(THRESH_STYLE)
    ) u_core (.*);
endmodule
