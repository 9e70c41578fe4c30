// ram_fifo: first-word-fall-through AXI-stream FIFO of DEPTH words in a ram_sdp (registered read: block RAM or LUT
// RAM as the tools choose) plus the output register, so DEPTH + 1 words in all; the DMAs' beat buffers.
module ram_fifo #(
    parameter int W     = 64,
    parameter int DEPTH = 32    // words in the RAM, >= 2
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
    localparam int PW = $clog2(DEPTH);
    localparam int CW = $clog2(DEPTH + 2);

    logic [PW-1:0] wr_ptr, rd_ptr;
    logic [CW-1:0] stored;            // words in the RAM (the output register not counted)
    logic          push, pop, load;

    assign in0_V_TREADY = stored != CW'(DEPTH);
    assign push = in0_V_TVALID && in0_V_TREADY;
    assign pop  = out0_V_TVALID && out0_V_TREADY;
    assign load = stored != 0 && (!out0_V_TVALID || pop);

    ram_sdp #(.DEPTH(DEPTH), .W(W), .STYLE("auto")) u_ram (
        .clk(ap_clk), .wr_en(push), .wr_addr(wr_ptr), .wr_data(in0_V_TDATA),
        .rd_en(load), .rd_addr(rd_ptr), .rd_data(out0_V_TDATA));

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            stored <= '0;
            out0_V_TVALID <= 1'b0;
        end else begin
            if (push) wr_ptr <= wr_ptr == PW'(DEPTH - 1) ? '0 : wr_ptr + 1'b1;
            if (load) rd_ptr <= rd_ptr == PW'(DEPTH - 1) ? '0 : rd_ptr + 1'b1;
            stored <= stored + CW'(push) - CW'(load);
            if (load) out0_V_TVALID <= 1'b1;
            else if (pop) out0_V_TVALID <= 1'b0;
        end
    end
endmodule
