// pool: FINN Pool (MaxPool, AccPool, QuantAvgPool) and GlobalAccPool. Each output vector
// reduces K input positions; words arrive position-major, CF channel folds of PE lanes each
// (im2col order, as FINN's python execution defines it for every PE), and one word per fold
// leaves after the last position. FUNC 0: max; 1: sum; 2: sum arithmetically shifted right by
// SHIFT (QuantAvgPool). Partial results live in a CF-entry LUT memory.
module pool #(
    parameter int K     = 4,   // positions per output (kernel size, or pixels for global)
    parameter int C     = 4,   // channels
    parameter int PE    = 2,
    parameter int IBITS = 4,
    parameter int IKIND = 0,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int OBITS = 6,
    parameter int FUNC  = 1,
    parameter int SHIFT = 0
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
    localparam int AB = IBITS + 2 + $clog2(K);      // signed accumulator
    localparam int FW = $clog2(CF > 1 ? CF : 2);
    localparam int KW = $clog2(K > 1 ? K : 2);

    logic [PE*AB-1:0]    acc [CF];
    logic [PE*AB-1:0]    acc_rd, acc_wr;
    logic [PE*OBITS-1:0] result;
    logic [FW-1:0]       cf;
    logic [KW-1:0]       k;
    logic                en, last_k, fire;
    /* verilator lint_off UNUSEDSIGNAL */
    logic                valid_s1;   // the output leaves straight from the input stage
    /* verilator lint_on UNUSEDSIGNAL */

    assign last_k       = k == KW'(K - 1);
    assign in0_V_TREADY = en || !last_k;
    assign fire         = in0_V_TVALID && in0_V_TREADY;
    assign acc_rd       = acc[cf];

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [IBITS:0] value;
        logic signed [AB-1:0]  prev, comb;
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [AB-1:0]  shifted;   // the output keeps its low OBITS
        /* verilator lint_on UNUSEDSIGNAL */
        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_dec (.raw(in0_V_TDATA[p*IBITS +: IBITS]), .value(value));
        assign prev    = acc_rd[p*AB +: AB];
        assign comb    = k == '0 ? AB'(value) : FUNC == 0 ? (AB'(value) > prev ? AB'(value) : prev)
                                                          : prev + AB'(value);
        assign shifted = FUNC == 2 ? comb >>> SHIFT : comb;
        assign acc_wr[p*AB +: AB] = comb;
        // bipolar max is re-encoded as a bit (+1 -> 1); everything else is two's complement
        assign result[p*OBITS +: OBITS] = FUNC == 0 && IKIND == 2 ? OBITS'(!comb[AB-1])
                                                                  : shifted[OBITS-1:0];
    end

    always_ff @(posedge ap_clk) if (fire && !last_k) acc[cf] <= acc_wr;

    channel_fold #(.CF(CF)) u_fold (.clk(ap_clk), .rst_n(ap_rst_n), .en(in0_V_TREADY),
                                    .in_valid(in0_V_TVALID), .cf(cf), .valid_s1(valid_s1));

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) k <= '0;
        else if (fire && cf == FW'(CF - 1)) k <= last_k ? '0 : k + 1'b1;
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(result), .in_valid(in0_V_TVALID && last_k), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
