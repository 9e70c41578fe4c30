// mvu: multi-bit matrix-vector unit, FINN MVAU without binaryXnorMode (first conv, last FC,
// real-valued shortcut convs): unsigned, signed or bipolar weights and activations of any
// width, products summed in an adder tree, optional fused thresholds. Ours because
// finn-rtllib's mvu_vvu_axi fails under Verilator and starts at 2-bit DSP-packed weights.
module mvu #(
    parameter int    MW           = 16,
    parameter int    MH           = 8,
    parameter int    PE           = 2,
    parameter int    SIMD         = 4,
    parameter int    IBITS        = 4,
    parameter int    WBITS        = 4,
    parameter int    IKIND        = 0,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int    WKIND        = 1,
    parameter int    ACCBITS      = 16,  // signed width of accumulators and thresholds
    parameter int    NTHRES       = 0,   // 0 = no activation
    parameter int    OBITS        = 16,
    parameter int    ACTVAL       = 0,
    parameter string WEIGHT_FILE  = "weights.mem",
    parameter string THRESH_FILE  = "thresholds",
    parameter bit    THRESH_SHARED = 0,  // one threshold row for all channels (threshold_search's SHARED)
    parameter string WEIGHT_STYLE = "auto",
    parameter int    WEIGHT_COLUMN = 0,
    parameter string THRESH_STYLE = "auto"
) (
    input  logic                  ap_clk,
    input  logic                  ap_rst_n,
    input  logic [SIMD*IBITS-1:0] in0_V_TDATA,
    input  logic                  in0_V_TVALID,
    output logic                  in0_V_TREADY,
    output logic [PE*OBITS-1:0]   out0_V_TDATA,
    output logic                  out0_V_TVALID,
    input  logic                  out0_V_TREADY
);
    // weights from the rom (WEIGHT_FILE); a layer that streams its weights (FINN's mem_mode
    // "external") instantiates mvu_core itself with WEIGHT_SOURCE "stream"
    wire  [PE*SIMD*WBITS-1:0] in1_V_TDATA  = '0;
    wire  in1_V_TVALID = 1'b0;
    /* verilator lint_off UNUSEDSIGNAL */
    logic in1_V_TREADY;
    /* verilator lint_on UNUSEDSIGNAL */

    mvu_core #(
        .MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .XNOR(1'b0), .IBITS(IBITS), .WBITS(WBITS),
        .IKIND(IKIND), .WKIND(WKIND), .ACCBITS(ACCBITS), .NTHRES(NTHRES), .OBITS(OBITS),
        .ACTVAL(ACTVAL), .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE), .THRESH_SHARED(THRESH_SHARED),
        .WEIGHT_STYLE(WEIGHT_STYLE), .WEIGHT_COLUMN(WEIGHT_COLUMN), .THRESH_STYLE(THRESH_STYLE)
    ) u_core (.*);
endmodule
