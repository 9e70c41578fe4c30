// channelwise_lut: xnorflow's ChannelwiseLUT layer, y[c] = table[c][x], PE channels per cycle
// (ReActNet's RPReLU, requantized, on an integer stream: exact for any slope, monotonic or not).
// Lane p serves channels cf*PE + p; its ROM holds CF tables of 2^IBITS entries, addressed by
// {channel fold, raw input bits}, so the host reorders each table by the input's bit pattern
// (LUT_FILE_<p>.mem). Ours because FINN has no lookup-table layer.
module channelwise_lut #(
    parameter int    C         = 16,  // channels (NumChannels)
    parameter int    PE        = 4,
    parameter int    IBITS     = 4,
    parameter int    OBITS     = 4,
    parameter string LUT_FILE  = "lut",   // lane p reads LUT_FILE_<p>.mem
    parameter string LUT_STYLE = "auto"
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
    localparam int CF  = C / PE;
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    localparam int AW  = $clog2(CF) + IBITS;   // rom's address width for CF << IBITS words

    logic                en, valid_s1;
    logic [CFW-1:0]      cf;
    logic [PE*OBITS-1:0] result;

    assign in0_V_TREADY = en;

    channel_fold #(.CF(CF)) u_fold (.clk(ap_clk), .rst_n(ap_rst_n), .en(en), .in_valid(in0_V_TVALID),
                                    .cf(cf), .valid_s1(valid_s1));

    for (genvar p = 0; p < PE; p++) begin : g_lane
        localparam string FILE = $sformatf("%s_%0d.mem", LUT_FILE, p);
        logic [AW-1:0] addr;
        assign addr = AW'({cf, in0_V_TDATA[p*IBITS +: IBITS]});
        rom #(.DEPTH(CF << IBITS), .W(OBITS), .INIT_FILE(FILE), .STYLE(LUT_STYLE))
            u_table (.clk(ap_clk), .en(en && in0_V_TVALID), .addr(addr), .data(result[p*OBITS +: OBITS]));
    end

    skid_buffer #(.W(PE*OBITS)) u_out (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .in_data(result), .in_valid(valid_s1), .in_ready(en),
        .out_data(out0_V_TDATA), .out_valid(out0_V_TVALID), .out_ready(out0_V_TREADY));
endmodule
