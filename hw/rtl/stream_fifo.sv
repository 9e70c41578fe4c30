// stream_fifo: first-word-fall-through AXI-stream FIFO (LUT memory, asynchronous read),
// used to size branch buffers so shortcut paths never deadlock. Ours because finn-rtllib's
// fifo fails under Verilator (unpacked struct in a constant function).
module stream_fifo #(
    parameter int W     = 8,
    parameter int DEPTH = 16
) (
    input  logic         ap_clk,
    input  logic         ap_rst_n,
    input  logic [W-1:0] in0_V_TDATA,
    input  logic         in0_V_TVALID,
    output logic         in0_V_TREADY,
    output logic [W-1:0] out0_V_TDATA,
    output logic         out0_V_TVALID,
    input  logic         out0_V_TREADY
);
    localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;

    logic [W-1:0]          mem [DEPTH];
    logic [AW-1:0]         wr_ptr, rd_ptr;
    localparam int CW = $clog2(DEPTH + 1);
    logic [CW-1:0]         count;
    logic                  push, pop;

    assign in0_V_TREADY  = count != CW'(DEPTH);
    assign out0_V_TVALID = count != '0;
    assign out0_V_TDATA  = mem[rd_ptr];
    assign push          = in0_V_TVALID && in0_V_TREADY;
    assign pop           = out0_V_TVALID && out0_V_TREADY;

    always_ff @(posedge ap_clk) if (push) mem[wr_ptr] <= in0_V_TDATA;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count  <= '0;
        end else begin
            if (push) wr_ptr <= wr_ptr == AW'(DEPTH - 1) ? '0 : wr_ptr + 1'b1;
            if (pop) rd_ptr <= rd_ptr == AW'(DEPTH - 1) ? '0 : rd_ptr + 1'b1;
            count <= count + CW'(push) - CW'(pop);
        end
    end
endmodule
