// fm_padding: FINN FMPadding. Surrounds each IMG_H x IMG_W image (C channels, SIMD per word)
// with PAD_T/PAD_L/PAD_B/PAD_R rows/columns of all-zero words; on a BINARY stream after the
// XNOR conversion a zero bit is bipolar -1, so the same module pads binary convs with -1. With
// PAD_MIN every border element is the most negative BITS-bit two's complement value instead (a max
// pool's -inf on a signed stream).
// Ours rather than finn-rtllib's fmpadding_axi: no AXI-lite, no byte-padded ports.
module fm_padding #(
    parameter int IMG_H = 4,
    parameter int IMG_W = 4,
    parameter int C     = 2,   // channels (FINN NumChannels)
    parameter int SIMD  = 1,
    parameter int BITS  = 8,   // bits per element
    parameter int PAD_T = 1,
    parameter int PAD_L = 1,
    parameter int PAD_B = 1,
    parameter int PAD_R = 1,
    parameter bit PAD_MIN = 1'b0
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    input  logic [SIMD*BITS-1:0] in0_V_TDATA,
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    output logic [SIMD*BITS-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
    localparam int CF    = C / SIMD;
    localparam logic [BITS-1:0] PAD = BITS'(PAD_MIN) << (BITS - 1);  // one border element
    localparam int OUT_H = IMG_H + PAD_T + PAD_B;
    localparam int OUT_W = IMG_W + PAD_L + PAD_R;
    localparam int FW = $clog2(CF > 1 ? CF : 2);
    localparam int XW = $clog2(OUT_W + 1);
    localparam int YW = $clog2(OUT_H + 1);

    logic [FW-1:0] cf;
    logic [XW-1:0] ox;
    logic [YW-1:0] oy;
    logic          en, past_top, past_left, in_image, valid, fire;

    if (PAD_T > 0) begin : g_top
        assign past_top = oy >= YW'(PAD_T);
    end else begin : g_no_top
        assign past_top = 1'b1;
    end
    if (PAD_L > 0) begin : g_left
        assign past_left = ox >= XW'(PAD_L);
    end else begin : g_no_left
        assign past_left = 1'b1;
    end
    assign in_image     = past_top && past_left && oy < YW'(PAD_T + IMG_H) &&
                          ox < XW'(PAD_L + IMG_W);
    assign valid        = !in_image || in0_V_TVALID;
    assign fire         = en && valid;
    assign in0_V_TREADY = en && in_image;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            cf <= '0;
            ox <= '0;
            oy <= '0;
        end else if (fire) begin
            cf <= cf == FW'(CF - 1) ? '0 : cf + 1'b1;
            if (cf == FW'(CF - 1)) begin
                ox <= ox == XW'(OUT_W - 1) ? '0 : ox + 1'b1;
                if (ox == XW'(OUT_W - 1)) oy <= oy == YW'(OUT_H - 1) ? '0 : oy + 1'b1;
            end
        end
    end

    skid_buffer #(.W(SIMD*BITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(in_image ? in0_V_TDATA : {SIMD{PAD}}), .in_valid(valid), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
