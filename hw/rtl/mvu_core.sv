// mvu_core: folded matrix-vector unit with FINN MVAU semantics, shared by xnor_mvu and mvu (weights
// in a rom), and the module of a layer whose weights stream in.
// Per input vector it runs NF = MH/PE output tiles of SF = MW/SIMD folds each, one fold per
// cycle: the first tile takes the vector from the stream and keeps it in a buffer, the
// others re-read it. Thresholds sit in ROMs ($readmemh); weights too (WEIGHT_SOURCE "rom"), or
// they arrive on the stream in1_V (WEIGHT_SOURCE "stream", FINN's mem_mode "external"): one
// word of PE x SIMD weights per fold, in the rom's memory-file order, the whole matrix again
// for every input vector; a fold issues only when its weight word is there. Pipeline: issue (ROM
// and buffer read) -> dot products -> accumulate -> threshold search (K stages, its first
// ROM read overlapping the accumulate) -> skid buffer. With one threshold per channel (NTHRES = 1) there is no
// search and no comparator: the accumulator starts each output at -t (the rom THRESH_FILE_start_p<lane>.mem, read
// with the first fold) instead of 0, and the output is its sign (acc >= t), so the threshold costs no logic beyond
// the accumulator's one extra bit; a single enable (the skid buffer's
// registered ready) stalls it, so there are no bubbles while the input is valid and the
// output ready. We write our own: finn-rtllib's mvu_vvu_axi has no
// 1-bit XNOR path and fails under Verilator.
module mvu_core #(
    parameter int    MW           = 16,   // input vector length
    parameter int    MH           = 8,    // output vector length
    parameter int    PE           = 2,    // output channels in parallel
    parameter int    SIMD         = 4,    // input elements in parallel
    parameter bit    XNOR         = 1'b0, // 1: binary xnor-popcount (IBITS = WBITS = 1)
    parameter int    IBITS        = 1,
    parameter int    WBITS        = 1,
    parameter int    IKIND        = 0,    // 0 unsigned, 1 signed, 2 bipolar (operand_decode)
    parameter int    WKIND        = 0,
    parameter int    ACCBITS      = 16,   // signed width of accumulators and thresholds
    parameter int    NTHRES       = 0,    // thresholds per channel; 0 = no activation
    parameter int    OBITS        = 16,   // output element width
    parameter int    ACTVAL       = 0,
    parameter string WEIGHT_SOURCE = "rom",         // "rom" (WEIGHT_FILE) or "stream" (in1_V)
    parameter string WEIGHT_FILE  = "weights.mem",
    parameter string THRESH_FILE  = "thresholds",   // threshold_search's FILE
    parameter bit    THRESH_SHARED = 0,             // threshold_search's SHARED: one row for all channels
    parameter string WEIGHT_STYLE = "auto",
    parameter int    WEIGHT_COLUMN = 0,   // rom.sv's COLUMN of a block weight rom
    parameter string THRESH_STYLE = "auto"
) (
    input  logic                    ap_clk,
    input  logic                    ap_rst_n,
    input  logic [SIMD*IBITS-1:0]   in0_V_TDATA,
    input  logic                    in0_V_TVALID,
    output logic                    in0_V_TREADY,
    /* verilator lint_off UNUSEDSIGNAL */  // the weight stream: unused in rom mode
    input  logic [PE*SIMD*WBITS-1:0] in1_V_TDATA,
    input  logic                    in1_V_TVALID,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic                    in1_V_TREADY,
    output logic [PE*OBITS-1:0]     out0_V_TDATA,
    output logic                    out0_V_TVALID,
    input  logic                    out0_V_TREADY
);
    localparam int SF   = MW / SIMD;
    localparam int NF   = MH / PE;
    localparam int WMEM = SF * NF;
    localparam int DW   = XNOR ? $clog2(SIMD) + 2 : IBITS + WBITS + 2 + $clog2(SIMD);
    localparam int SFW  = SF > 1 ? $clog2(SF) : 1;
    localparam int NFW  = NF > 1 ? $clog2(NF) : 1;
    localparam int WAW  = WMEM > 1 ? $clog2(WMEM) : 1;
    localparam int XW   = SIMD * IBITS;
    localparam bit WSTREAM = WEIGHT_SOURCE == "stream";

    logic en;   // pipeline advances (the skid buffer has room)

    // ---- stage 0: issue one fold (sf, nf) ----
    logic [SFW-1:0] sf;
    logic [NFW-1:0] nf;
    /* verilator lint_off UNUSEDSIGNAL */  // the weight rom's address: unused in stream mode
    logic [WAW-1:0] waddr;
    /* verilator lint_on UNUSEDSIGNAL */
    logic           issue, x_ok, w_ok;
    logic [XW-1:0]  vec_buf [SF];

    // a fold issues when its activations (stream or buffer) and, in stream mode, its weight word are there
    assign x_ok         = nf != '0 || in0_V_TVALID;
    assign w_ok         = WSTREAM ? in1_V_TVALID : 1'b1;
    assign in0_V_TREADY = en && nf == '0 && w_ok;
    assign in1_V_TREADY = WSTREAM ? en && x_ok : 1'b0;
    assign issue        = en && x_ok && w_ok;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            sf    <= '0;
            nf    <= '0;
            waddr <= '0;
        end else if (issue) begin
            sf    <= sf == SFW'(SF - 1) ? '0 : sf + 1'b1;
            waddr <= waddr == WAW'(WMEM - 1) ? '0 : waddr + 1'b1;
            if (sf == SFW'(SF - 1)) nf <= nf == NFW'(NF - 1) ? '0 : nf + 1'b1;
        end
    end

    // ---- stage 1: fold operands ----
    logic [XW-1:0]            x_s1;
    logic [PE*SIMD*WBITS-1:0] w_s1;
    logic                     valid_s1, first_s1, last_s1;
    logic [NFW-1:0]           nf_s1;

    if (WSTREAM) begin : g_wstream
        always_ff @(posedge ap_clk) if (issue) w_s1 <= in1_V_TDATA;
    end else begin : g_wrom
        rom #(.DEPTH(WMEM), .W(PE*SIMD*WBITS), .INIT_FILE(WEIGHT_FILE), .STYLE(WEIGHT_STYLE),
             .COLUMN(WEIGHT_COLUMN))
            u_weights (.clk(ap_clk), .en(issue), .addr(waddr), .data(w_s1));
    end

    always_ff @(posedge ap_clk) begin
        if (issue) begin
            x_s1 <= nf == '0 ? in0_V_TDATA : vec_buf[sf];
            if (nf == '0) vec_buf[sf] <= in0_V_TDATA;
        end
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            valid_s1 <= 1'b0;
        end else if (en) begin
            valid_s1 <= issue;
            first_s1 <= sf == '0;
            last_s1  <= sf == SFW'(SF - 1);
            nf_s1    <= nf;
        end
    end

    // ---- stage 2: PE dot products of one fold ----
    logic [PE*DW-1:0] dots, dots_s2;
    logic             valid_s2, first_s2, last_s2;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [NFW-1:0]   nf_s2;   // threshold address; unused without activation
    /* verilator lint_on UNUSEDSIGNAL */

    if (XNOR) begin : g_xnor
        dot_xnor #(.PE(PE), .SIMD(SIMD), .DW(DW)) u_dot (.x(x_s1), .w(w_s1), .dots(dots));
    end else begin : g_mul
        dot_mul #(.PE(PE), .SIMD(SIMD), .IBITS(IBITS), .WBITS(WBITS), .IKIND(IKIND),
                  .WKIND(WKIND), .DW(DW)) u_dot (.x(x_s1), .w(w_s1), .dots(dots));
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            valid_s2 <= 1'b0;
        end else if (en) begin
            valid_s2 <= valid_s1;
            dots_s2  <= dots;
            first_s2 <= first_s1;
            last_s2  <= last_s1;
            nf_s2    <= nf_s1;
        end
    end

    // ---- stage 3: accumulate over the SF folds, from 0 or (NTHRES = 1) from -t ----
    localparam bit ONE_T = NTHRES == 1;
    localparam int AB    = ONE_T ? ACCBITS + 1 : ACCBITS;   // acc - t spans one bit more than acc and t
    logic [PE*AB-1:0] acc, start;
    logic             valid_s3;

    if (ONE_T) begin : g_start
        for (genvar p = 0; p < PE; p++) begin : g_pe
            rom #(.DEPTH(NF), .W(AB), .INIT_FILE($sformatf("%s_start_p%0d.mem", THRESH_FILE, p)),
                  .STYLE(THRESH_STYLE)) u_start (
                .clk(ap_clk), .en(en && valid_s1 && first_s1), .addr(nf_s1), .data(start[p*AB +: AB]));
        end
    end else begin : g_zero
        assign start = '0;
    end

    for (genvar p = 0; p < PE; p++) begin : g_acc
        always_ff @(posedge ap_clk) begin
            if (en && valid_s2) begin
                acc[p*AB +: AB] <= (first_s2 ? start[p*AB +: AB] : acc[p*AB +: AB]) + AB'($signed(dots_s2[p*DW +: DW]));
            end
        end
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) valid_s3 <= 1'b0;
        else if (en) valid_s3 <= valid_s2 && last_s2;
    end

    // ---- stage 4: activation (none, the accumulator's sign, or K = $clog2(NTHRES + 1) search stages) ----
    logic [PE*OBITS-1:0] result;
    logic                valid_out;

    if (NTHRES == 0) begin : g_noact
        assign valid_out = valid_s3;
        for (genvar p = 0; p < PE; p++) begin : g_pe
            assign result[p*OBITS +: OBITS] = OBITS'($signed(acc[p*AB +: AB]));
        end
    end else if (ONE_T) begin : g_sign
        assign valid_out = valid_s3;
        for (genvar p = 0; p < PE; p++) begin : g_pe
            assign result[p*OBITS +: OBITS] = OBITS'(32'(!acc[p*AB + AB - 1]) + ACTVAL);
        end
    end else begin : g_act
        threshold_search #(.PE(PE), .CF(NF), .VW(ACCBITS), .NTHRES(NTHRES), .OBITS(OBITS),
                           .ACTVAL(ACTVAL), .SHARED(THRESH_SHARED), .FILE(THRESH_FILE),
                           .STYLE(THRESH_STYLE)) u_search (
            .clk(ap_clk), .rst_n(ap_rst_n), .en(en), .rd(valid_s2 && last_s2), .fold(nf_s2),
            .in_valid(valid_s3), .value(acc), .out_valid(valid_out), .result(result));
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(result), .in_valid(valid_out), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
