// channel_gate_mul: xnorflow's ChannelGateMul layer, y[pixel][c] = x[pixel][c] * g[c], PE channels
// per cycle (Real-to-Binary's data-driven channel re-scaling, R2B Eq. 3, on integer streams).
// in1_V brings the frame's C gate values (CF = C/PE words) first; they are held while the frame's
// PIXELS x CF words of in0_V stream through, then the next frame's gate is read. Operands are
// decoded from their FINN types; the product leaves as OBITS two's complement (FINN's output type).
// Ours because FINN has no activation x activation layer.
module channel_gate_mul #(
    parameter int C      = 16,  // channels (NumChannels)
    parameter int PE     = 4,
    parameter int PIXELS = 4,   // pixel vectors per frame (numInputVectors product)
    parameter int IBITS  = 8,
    parameter int IKIND  = 1,   // 0 unsigned, 1 signed, 2 bipolar
    parameter int GBITS  = 8,
    parameter int GKIND  = 0,
    parameter int OBITS  = 16
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [PE*IBITS-1:0] in0_V_TDATA,
    input  logic                in0_V_TVALID,
    output logic                in0_V_TREADY,
    input  logic [PE*GBITS-1:0] in1_V_TDATA,
    input  logic                in1_V_TVALID,
    output logic                in1_V_TREADY,
    output logic [PE*OBITS-1:0] out0_V_TDATA,
    output logic                out0_V_TVALID,
    input  logic                out0_V_TREADY
);
    localparam int CF  = C / PE;
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    localparam int PXW = PIXELS > 1 ? $clog2(PIXELS) : 1;
    localparam int MW  = IBITS + GBITS + 2;

    logic [PE*GBITS-1:0] gate [CF];
    logic                have_gate, en, take_x, take_g, last_x;
    logic [CFW-1:0]      cf;       // channel fold of the next word (gate while loading, x while streaming)
    logic [PXW-1:0]      pixel;
    logic [PE*OBITS-1:0] product;

    assign in1_V_TREADY = !have_gate;
    assign in0_V_TREADY = en && have_gate;
    assign take_g       = in1_V_TVALID && !have_gate;
    assign take_x       = in0_V_TVALID && in0_V_TREADY;
    assign last_x       = cf == CFW'(CF - 1) && pixel == PXW'(PIXELS - 1);

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            have_gate <= 1'b0;
            cf        <= '0;
            pixel     <= '0;
        end else if (take_g) begin
            have_gate <= cf == CFW'(CF - 1);
            cf        <= cf == CFW'(CF - 1) ? '0 : cf + 1'b1;
        end else if (take_x) begin
            have_gate <= !last_x;
            cf        <= cf == CFW'(CF - 1) ? '0 : cf + 1'b1;
            if (cf == CFW'(CF - 1)) pixel <= last_x ? '0 : pixel + 1'b1;
        end
    end

    always_ff @(posedge ap_clk) if (take_g) gate[cf] <= in1_V_TDATA;

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [IBITS:0] a;
        logic signed [GBITS:0] b;
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [MW-1:0]  m;   // the output keeps its low OBITS
        /* verilator lint_on UNUSEDSIGNAL */
        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_a (.raw(in0_V_TDATA[p*IBITS +: IBITS]), .value(a));
        operand_decode #(.BITS(GBITS), .KIND(GKIND)) u_b (.raw(gate[cf][p*GBITS +: GBITS]), .value(b));
        assign m = MW'(a) * MW'(b);
        assign product[p*OBITS +: OBITS] = OBITS'(m);
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(product), .in_valid(in0_V_TVALID && have_gate), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
