// threshold_search: FINN MultiThreshold for PE lanes as a pipelined binary search. A value's
// output is the number of its channel's thresholds it reaches (value >= t) plus ACTVAL; with
// the thresholds sorted and padded to 2^K - 1 (K = $clog2(NTHRES + 1)) by a never-reached
// value, that count's bits are found MSB first, one compare per stage. Stage s of lane p
// holds, per channel fold, the 2^s thresholds its search can reach (FILE_s<s>_p<p>.mem,
// addressed by {fold, count bits so far}); each stage's compare forms the next stage's ROM
// address, so a value takes K cycles and one enters every cycle. Replaces N parallel compares
// per lane (huge RTL for 8-bit outputs). Timing: (rd, fold) come one enabled cycle before
// (in_valid, value), so stage 0's ROM read overlaps the caller's last register stage.
// SHARED: one row of thresholds for every channel (FINN's thresholds of shape (1, N)): stage s holds
// its 2^s thresholds once (FILE_s<s>.mem, addressed by the count bits alone) instead of once per
// channel fold. Each lane reads its own copy of that small ROM (2^(K-1) words at most, 128 for an
// 8-bit output: LUT logic, not block RAM); one ROM for all lanes would need PE read ports.
module threshold_search #(
    parameter int    PE     = 4,
    parameter int    CF     = 4,    // channel folds (channels / PE)
    parameter int    VW     = 8,    // width of values and thresholds (two's complement)
    parameter int    NTHRES = 3,    // thresholds per channel
    parameter int    OBITS  = 2,
    parameter int    ACTVAL = 0,    // added to the count (FINN ActVal)
    parameter bit    SHARED = 0,    // one threshold row for all channels: no fold in the ROM address
    parameter string FILE   = "thresholds",
    parameter string STYLE  = "auto"
) (
    input  logic                                clk,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic                                rst_n,     // no registered valid when K = 1
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                                en,        // the whole pipeline advances
    input  logic                                rd,        // a value follows next cycle ...
    input  logic [$clog2(CF > 1 ? CF : 2)-1:0]  fold,      // ... of this channel fold
    input  logic                                in_valid,  // rd, one enabled cycle later
    input  logic [PE*VW-1:0]                    value,
    output logic                                out_valid,
    output logic [PE*OBITS-1:0]                 result
);
    localparam int K   = $clog2(NTHRES + 1);   // search stages
    localparam int CFW = $clog2(CF > 1 ? CF : 2);

    // level l (1..K) holds a value during search stage l-1: its count bits so far (cnt), the
    // threshold read for it (thr) and the count with this stage's bit added (next)
    for (genvar l = 1; l <= K; l++) begin : g_level
        logic             valid, rd_en;
        logic [PE*VW-1:0] val, thr;
        logic [PE*K-1:0]  cnt, next;
        /* verilator lint_off UNUSEDSIGNAL */
        logic [CFW-1:0]   addr;    // the last level has no ROM after it
        /* verilator lint_on UNUSEDSIGNAL */

        if (l == 1) begin : g_in
            assign rd_en = en && rd;
            assign valid = in_valid;
            assign val   = value;
            assign cnt   = '0;
            always_ff @(posedge clk) if (rd_en) addr <= SHARED ? '0 : fold;
        end else begin : g_reg
            assign rd_en = en && g_level[l-1].valid;
            always_ff @(posedge clk) begin
                if (!rst_n) valid <= 1'b0;
                else if (en) valid <= g_level[l-1].valid;
            end
            always_ff @(posedge clk) begin
                if (en) begin
                    val  <= g_level[l-1].val;
                    cnt  <= g_level[l-1].next;
                    addr <= g_level[l-1].addr;
                end
            end
        end

        for (genvar p = 0; p < PE; p++) begin : g_lane
            localparam int    DEPTH = (SHARED ? 1 : CF) << (l - 1);
            localparam int    AW    = $clog2(DEPTH > 1 ? DEPTH : 2);
            localparam string NAME  = SHARED ? $sformatf("%s_s%0d.mem", FILE, l - 1)
                                             : $sformatf("%s_s%0d_p%0d.mem", FILE, l - 1, p);
            logic [CFW+K-1:0] key;   // {fold, count bits of the level before}: this ROM's address
            logic             reached;
            if (l == 1) begin : g_k0
                assign key = {SHARED ? CFW'(0) : fold, K'(0)};
            end else begin : g_kn
                assign key = {g_level[l-1].addr, g_level[l-1].next[p*K +: K]};
            end
            rom #(.DEPTH(DEPTH), .W(VW), .INIT_FILE(NAME), .STYLE(STYLE)) u_rom (
                .clk(clk), .en(rd_en), .addr(AW'(key >> (K - l + 1))), .data(thr[p*VW +: VW]));
            assign reached        = $signed(val[p*VW +: VW]) >= $signed(thr[p*VW +: VW]);
            assign next[p*K +: K] = cnt[p*K +: K] | (reached ? K'(1) << (K - l) : '0);
        end
    end

    assign out_valid = g_level[K].valid;
    for (genvar p = 0; p < PE; p++) begin : g_out
        assign result[p*OBITS +: OBITS] = OBITS'(32'(g_level[K].next[p*K +: K]) + ACTVAL);
    end
endmodule
