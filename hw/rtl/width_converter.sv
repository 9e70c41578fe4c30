// width_converter: FINN StreamingDataWidthConverter for any input/output widths: the stream is
// one sequence of UNIT-bit elements, re-cut from IW-bit into OW-bit words. A shift buffer of
// IW + 2*OW bits keeps one word per cycle on the faster side for every width pair (an IW + OW
// buffer, as in finn-rtllib's dwc, drops to 75% for 12 -> 8 bits); in_ready is a register.
module width_converter #(
    parameter int IW   = 8,   // input word bits
    parameter int OW   = 12,  // output word bits
    parameter int UNIT = 4    // element bits, dividing IW and OW
) (
    input  logic          ap_clk,
    input  logic          ap_rst_n,
    input  logic [IW-1:0] in0_V_TDATA,
    input  logic          in0_V_TVALID,
    output logic          in0_V_TREADY,
    output logic [OW-1:0] out0_V_TDATA,
    output logic          out0_V_TVALID,
    input  logic          out0_V_TREADY
);
    localparam int IU = IW / UNIT;
    localparam int OU = OW / UNIT;
    localparam int BU = IU + 2 * OU;                // buffer size in units
    localparam int CW = $clog2(BU + 1);

    logic [BU*UNIT-1:0] buffer, kept;
    logic [CW-1:0]      count, count_kept;
    logic               push, pop;

    assign in0_V_TREADY  = count <= CW'(BU - IU);
    assign out0_V_TVALID = count >= CW'(OU);
    assign out0_V_TDATA  = buffer[OW-1:0];
    assign push          = in0_V_TVALID && in0_V_TREADY;
    assign pop           = out0_V_TVALID && out0_V_TREADY;
    assign kept          = pop ? buffer >> OW : buffer;
    assign count_kept    = pop ? count - CW'(OU) : count;

    // bits at and above count are always zero, so a new word is OR-ed in at count_kept
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            buffer <= '0;
            count  <= '0;
        end else begin
            buffer <= push ? kept | ((BU*UNIT)'(in0_V_TDATA) << (UNIT * int'(count_kept))) : kept;
            count  <= push ? count_kept + CW'(IU) : count_kept;
        end
    end
endmodule
