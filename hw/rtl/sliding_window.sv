// sliding_window: FINN ConvolutionInputGenerator (dilation 1). Streams an IFM_H x IFM_W image of
// C channels, SIMD per word, and emits for each output pixel its K_H x K_W window in im2col order
// (kernel row, kernel column, channel fold), the order FINN's MVAU reads. Ours rather than
// finn-rtllib's swg template because that template needs FINN's code generator filled in.
//
// The line buffer is a circular RAM of DEPTH words. One signed counter, ahead, holds the number
// of words written beyond the first word of the current output pixel's window: a window word at
// offset r may be read once r < ahead, and a new word may overwrite the slot of word
// (written - DEPTH) once ahead < DEPTH. The writer needs no frame counters; frames overlap.
module sliding_window #(
    parameter int    IFM_H     = 8,
    parameter int    IFM_W     = 8,
    parameter int    C         = 4,     // channels (FINN IFMChannels)
    parameter int    SIMD      = 2,
    parameter int    BITS      = 1,     // bits per element
    parameter int    K_H       = 3,
    parameter int    K_W       = 3,
    parameter int    S_H       = 1,
    parameter int    S_W       = 1,
    parameter int    DEPTH     = (K_H + S_H) * IFM_W * (C / SIMD),
    parameter string RAM_STYLE = "auto"
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
    localparam int ROW   = IFM_W * CF;              // words per image row
    localparam int OFM_H = (IFM_H - K_H) / S_H + 1;
    localparam int OFM_W = (IFM_W - K_W) / S_W + 1;
    localparam int SPAN  = K_W * CF;                // words per kernel row
    // window start moves: next pixel, next output row, next frame
    localparam int STEP_PIX   = S_W * CF;
    localparam int STEP_ROW   = S_H * ROW - (OFM_W - 1) * S_W * CF;
    localparam int STEP_FRAME = IFM_H * ROW - (OFM_H - 1) * S_H * ROW - (OFM_W - 1) * S_W * CF;
    localparam int STEP_KROW  = ROW - SPAN + 1;     // last word of a kernel row -> next row
    localparam int AW = $clog2(DEPTH > 1 ? DEPTH : 2);
    localparam int RW = $clog2(DEPTH + 1);          // window offsets are < DEPTH
    localparam int DW = $clog2(IFM_H * ROW + DEPTH + 1) + 1;
    localparam int JW = $clog2(SPAN > 1 ? SPAN : 2);
    localparam int KW = $clog2(K_H > 1 ? K_H : 2);
    localparam int XW = $clog2(OFM_W > 1 ? OFM_W : 2);
    localparam int YW = $clog2(OFM_H > 1 ? OFM_H : 2);

    logic signed [DW-1:0] ahead;
    logic [AW-1:0]        wr_addr, pix_addr, rd_addr;
    logic [RW-1:0]        r;
    logic [JW-1:0]        j;
    logic [KW-1:0]        ky;
    logic [XW-1:0]        ox;
    logic [YW-1:0]        oy;
    logic                 en, wr, can_read, issue, valid_s1;
    logic                 last_j, last_ky, last_ox, last_oy;
    logic [SIMD*BITS-1:0] data_s1;
    int unsigned          step;

    function automatic logic [AW-1:0] wrap(input logic [AW-1:0] addr, input int unsigned inc);
        int unsigned sum = int'(addr) + inc;
        return AW'(sum >= DEPTH ? sum - DEPTH : sum);
    endfunction

    assign in0_V_TREADY = ahead < DW'(DEPTH);
    assign wr           = in0_V_TVALID && in0_V_TREADY;
    assign can_read     = $signed(DW'(r)) < ahead;
    assign issue        = en && can_read;
    assign last_j       = j == JW'(SPAN - 1);
    assign last_ky      = ky == KW'(K_H - 1);
    assign last_ox      = ox == XW'(OFM_W - 1);
    assign last_oy      = oy == YW'(OFM_H - 1);
    assign step         = !last_ox ? STEP_PIX : !last_oy ? STEP_ROW : STEP_FRAME;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            ahead    <= '0;
            wr_addr  <= '0;
            pix_addr <= '0;
            rd_addr  <= '0;
            r        <= '0;
            j        <= '0;
            ky       <= '0;
            ox       <= '0;
            oy       <= '0;
            valid_s1 <= 1'b0;
        end else begin
            if (wr) wr_addr <= wrap(wr_addr, 1);
            ahead <= ahead + DW'(wr) - (issue && last_j && last_ky ? DW'(step) : '0);
            if (en) valid_s1 <= can_read;
            if (issue) begin
                if (!last_j) begin
                    j       <= j + 1'b1;
                    r       <= r + 1'b1;
                    rd_addr <= wrap(rd_addr, 1);
                end else if (!last_ky) begin
                    j       <= '0;
                    ky      <= ky + 1'b1;
                    r       <= r + RW'(STEP_KROW);
                    rd_addr <= wrap(rd_addr, STEP_KROW);
                end else begin
                    j        <= '0;
                    ky       <= '0;
                    r        <= '0;
                    pix_addr <= wrap(pix_addr, step);
                    rd_addr  <= wrap(pix_addr, step);
                    ox       <= last_ox ? '0 : ox + 1'b1;
                    if (last_ox) oy <= last_oy ? '0 : oy + 1'b1;
                end
            end
        end
    end

    ram_sdp #(.DEPTH(DEPTH), .W(SIMD*BITS), .STYLE(RAM_STYLE)) u_buf (
        .clk(ap_clk), .wr_en(wr), .wr_addr(wr_addr), .wr_data(in0_V_TDATA),
        .rd_en(issue), .rd_addr(rd_addr), .rd_data(data_s1));

    skid_buffer #(.W(SIMD*BITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(data_s1), .in_valid(valid_s1), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
