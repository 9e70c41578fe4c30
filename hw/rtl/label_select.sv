// label_select: FINN LabelSelect (TopK over the logits). Each vector of LABELS values arrives
// PE per word; each word's values are inserted, in index order, into a sorted list of the K
// largest (ties keep the lower index first, as ONNX TopK does). After the last word, the K
// indices leave one per word, largest first, while the next vector streams in; the bank of
// indices reloads in the cycle its last one leaves, so one word per vector runs at full rate.
module label_select #(
    parameter int LABELS = 10,
    parameter int PE     = 2,
    parameter int IBITS  = 8,
    parameter int IKIND  = 1,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int K      = 1,
    parameter int OBITS  = 8    // output index bits
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [PE*IBITS-1:0] in0_V_TDATA,
    input  logic                in0_V_TVALID,
    output logic                in0_V_TREADY,
    output logic [OBITS-1:0]    out0_V_TDATA,
    output logic                out0_V_TVALID,
    input  logic                out0_V_TREADY
);
    localparam int NF = LABELS / PE;
    localparam int FW = $clog2(NF > 1 ? NF : 2);
    localparam int IW = $clog2(LABELS > 1 ? LABELS : 2);
    localparam int CW = $clog2(K + 1);

    // the sorted list before the word (row 0) and after inserting each of its PE values
    logic signed [IBITS:0] val [PE+1][K];
    logic [IW-1:0]         idx [PE+1][K];
    logic                  vld [PE+1][K];
    logic signed [IBITS:0] top_val [K];
    logic [IW-1:0]         top_idx [K];
    logic                  top_vld [K];
    logic [OBITS-1:0]      out_idx [K];
    logic [CW-1:0]         out_left;
    logic [FW-1:0]         f;
    logic                  last_f, fire, en, pop;
    logic signed [IBITS:0] lane [PE];

    assign last_f        = f == FW'(NF - 1);
    assign pop           = out_left != '0 && en;
    assign in0_V_TREADY  = !last_f || out_left == '0 || (out_left == CW'(1) && en);
    assign fire          = in0_V_TVALID && in0_V_TREADY;

    for (genvar p = 0; p < PE; p++) begin : g_dec
        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_dec (.raw(in0_V_TDATA[p*IBITS +: IBITS]), .value(lane[p]));
    end

    always_comb begin
        for (int i = 0; i < K; i++) begin
            val[0][i] = top_val[i];
            idx[0][i] = top_idx[i];
            vld[0][i] = top_vld[i] && f != '0;
        end
        for (int p = 0; p < PE; p++) begin
            for (int i = 0; i < K; i++) begin
                // the list is sorted, so entries that stay form a prefix
                if (vld[p][i] && val[p][i] >= lane[p]) begin
                    val[p+1][i] = val[p][i];
                    idx[p+1][i] = idx[p][i];
                    vld[p+1][i] = 1'b1;
                end else if (i == 0 || (vld[p][i-1] && val[p][i-1] >= lane[p])) begin
                    val[p+1][i] = lane[p];
                    idx[p+1][i] = IW'(int'(f) * PE + p);
                    vld[p+1][i] = 1'b1;
                end else begin
                    val[p+1][i] = val[p][i-1];
                    idx[p+1][i] = idx[p][i-1];
                    vld[p+1][i] = vld[p][i-1];
                end
            end
        end
    end

    always_ff @(posedge ap_clk) begin
        if (fire) begin
            for (int i = 0; i < K; i++) begin
                top_val[i] <= val[PE][i];
                top_idx[i] <= idx[PE][i];
            end
        end
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            f        <= '0;
            out_left <= '0;
            for (int i = 0; i < K; i++) top_vld[i] <= 1'b0;
        end else begin
            if (fire) begin
                f <= last_f ? '0 : f + 1'b1;
                for (int i = 0; i < K; i++) top_vld[i] <= vld[PE][i];
            end
            if (fire && last_f) begin
                out_left <= CW'(K);
                for (int i = 0; i < K; i++) out_idx[i] <= OBITS'(idx[PE][i]);
            end else if (pop) begin
                out_left <= out_left - 1'b1;
                for (int i = 0; i + 1 < K; i++) out_idx[i] <= out_idx[i+1];
            end
        end
    end

    skid_buffer #(.W(OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(out_idx[0]), .in_valid(out_left != '0), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
