// skid_buffer: two-entry AXI-stream register slice. in_ready is a register, so a stalled
// pipeline upstream never sees a combinational path from out_ready; full throughput.
module skid_buffer #(
    parameter int W = 8
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic [W-1:0] in_data,
    input  logic         in_valid,
    output logic         in_ready,
    output logic [W-1:0] out_data,
    output logic         out_valid,
    input  logic         out_ready
);
    logic [W-1:0] spare_data;
    logic         spare_valid;

    assign in_ready = !spare_valid;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            out_valid   <= 1'b0;
            spare_valid <= 1'b0;
        end else if (out_ready || !out_valid) begin
            out_valid   <= spare_valid || in_valid;
            out_data    <= spare_valid ? spare_data : in_data;
            spare_valid <= 1'b0;
        end else if (in_valid && !spare_valid) begin
            spare_data  <= in_data;
            spare_valid <= 1'b1;
        end
    end
endmodule
