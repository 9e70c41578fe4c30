// requantize: xnorflow's Requantize layer, PE channels per cycle:
// output = clamp((m[c] * clamp(x, KLO, KHI) + c[c]) >>> SHIFT, 0, LEVELS) + ACTVAL,
// the integer form of LEVELS evenly spaced thresholds (a BN or scale onto an 8-bit grid), with m and c per
// channel from two small ROMs per lane (addressed by the channel fold) instead of LEVELS thresholds.
// PIECES=2 (a PReLU-like per-channel table of two affine pieces): m (signed, MBITS with its sign) and c are
// (m0, c0) where the clamped input is below the channel's breakpoint t, else (m1, c1); three more ROMs per lane.
// Pipeline: ROM read and input clamp, registered multiply (a DSP48 from a 9-bit product), add, shift and
// clamp; the skid buffer's ready stalls every stage together (one word per cycle).
module requantize #(
    parameter int    C          = 16,  // channels (NumChannels)
    parameter int    PE         = 4,
    parameter int    IBITS      = 8,
    parameter int    IKIND      = 1,   // 0 unsigned, 1 signed, 2 bipolar (operand_decode)
    parameter int    KBITS      = 8,   // signed width of the clamped input
    parameter int    KLO        = -128,
    parameter int    KHI        = 127,
    parameter int    PIECES     = 1,   // 1: one (m, c) per channel; 2: two, split at a breakpoint t
    parameter int    MBITS      = 8,   // width of m: unsigned (PIECES=1), signed (PIECES=2)
    parameter int    CBITS      = 16,  // signed width of c
    parameter int    SHIFT      = 4,
    parameter int    LEVELS     = 255,
    parameter int    OBITS      = 8,
    parameter int    ACTVAL     = 0,
    parameter string PARAM_FILE = "requant",  // lane p reads PARAM_FILE_{m,c}_<p>.mem (PIECES=2: m1, c1, t too)
    parameter string ROM_STYLE  = "auto"
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
    localparam int CF    = C / PE;
    localparam int CFW   = $clog2(CF > 1 ? CF : 2);
    localparam int PBITS = KBITS + MBITS + 1;                          // signed product
    localparam int LBITS = $clog2(LEVELS + 1) + 1;                    // signed LEVELS
    localparam int SBITS = (PBITS > CBITS ? (PBITS > LBITS ? PBITS : LBITS) : (CBITS > LBITS ? CBITS : LBITS)) + 1;
    localparam int XBITS = IBITS + 1 > 32 ? IBITS + 1 : 32;            // the input beside KLO, KHI

    logic                en, valid_s1, valid_s2, valid_s3;
    logic [CFW-1:0]      cf;
    logic [PE*OBITS-1:0] result;

    assign in0_V_TREADY = en;

    channel_fold #(.CF(CF)) u_fold (.clk(ap_clk), .rst_n(ap_rst_n), .en(en), .in_valid(in0_V_TVALID),
                                    .cf(cf), .valid_s1(valid_s1));

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            valid_s2 <= 1'b0;
            valid_s3 <= 1'b0;
        end else if (en) begin
            valid_s2 <= valid_s1;
            valid_s3 <= valid_s2;
        end
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [IBITS:0]   value;
        logic signed [KBITS-1:0] x_s1;
        logic [MBITS-1:0]        m0_s1;  // the (first piece's) m and c as stored
        logic [CBITS-1:0]        c0_s1;
        logic signed [MBITS:0]   m_s1;   // m with its sign
        logic [CBITS-1:0]        c_s1;
        logic signed [PBITS-1:0] prod_s2;
        logic signed [CBITS-1:0] c_s2;
        logic signed [SBITS-1:0] sum;
        /* verilator lint_off UNUSEDSIGNAL */  // the level fits OBITS once clamped; the sum's top bits go
        logic signed [SBITS-1:0] level;
        logic signed [XBITS-1:0] wide;
        /* verilator lint_on UNUSEDSIGNAL */
        logic [OBITS-1:0]        out_s3;

        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_dec (.raw(in0_V_TDATA[p*IBITS +: IBITS]), .value(value));
        assign wide = XBITS'(value);
        rom #(.DEPTH(CF), .W(MBITS), .INIT_FILE($sformatf("%s_m_%0d.mem", PARAM_FILE, p)), .STYLE(ROM_STYLE))
            u_m (.clk(ap_clk), .en(en && in0_V_TVALID), .addr(cf), .data(m0_s1));
        rom #(.DEPTH(CF), .W(CBITS), .INIT_FILE($sformatf("%s_c_%0d.mem", PARAM_FILE, p)), .STYLE(ROM_STYLE))
            u_c (.clk(ap_clk), .en(en && in0_V_TVALID), .addr(cf), .data(c0_s1));
        if (PIECES == 1) begin : g_one
            assign m_s1 = {1'b0, m0_s1};
            assign c_s1 = c0_s1;
        end else begin : g_two  // the second piece's m and c, and the breakpoint, beside the first
            logic [MBITS-1:0] m1_s1;
            logic [CBITS-1:0] c1_s1;
            logic [KBITS-1:0] t_s1;
            logic             below;
            rom #(.DEPTH(CF), .W(MBITS), .INIT_FILE($sformatf("%s_m1_%0d.mem", PARAM_FILE, p)), .STYLE(ROM_STYLE))
                u_m1 (.clk(ap_clk), .en(en && in0_V_TVALID), .addr(cf), .data(m1_s1));
            rom #(.DEPTH(CF), .W(CBITS), .INIT_FILE($sformatf("%s_c1_%0d.mem", PARAM_FILE, p)), .STYLE(ROM_STYLE))
                u_c1 (.clk(ap_clk), .en(en && in0_V_TVALID), .addr(cf), .data(c1_s1));
            rom #(.DEPTH(CF), .W(KBITS), .INIT_FILE($sformatf("%s_t_%0d.mem", PARAM_FILE, p)), .STYLE(ROM_STYLE))
                u_t (.clk(ap_clk), .en(en && in0_V_TVALID), .addr(cf), .data(t_s1));
            assign below = x_s1 < $signed(t_s1);
            assign m_s1  = below ? (MBITS+1)'($signed(m0_s1)) : (MBITS+1)'($signed(m1_s1));
            assign c_s1  = below ? c0_s1 : c1_s1;
        end

        always_ff @(posedge ap_clk) begin
            if (en && in0_V_TVALID)
                x_s1 <= wide < XBITS'(KLO) ? KBITS'(KLO) : wide > XBITS'(KHI) ? KBITS'(KHI) : KBITS'(wide);
            if (en) begin
                prod_s2 <= PBITS'(x_s1) * m_s1;
                c_s2    <= c_s1;
                out_s3  <= OBITS'(level) + OBITS'(ACTVAL);   // two's complement: the low OBITS bits
            end
        end

        assign sum   = (SBITS'(prod_s2) + SBITS'(c_s2)) >>> SHIFT;
        assign level = sum[SBITS-1] ? '0 : sum > SBITS'(LEVELS) ? SBITS'(LEVELS) : sum;
        assign result[p*OBITS +: OBITS] = out_s3;
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(result), .in_valid(valid_s3), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
