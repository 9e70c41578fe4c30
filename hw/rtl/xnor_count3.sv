// xnor_count3: the number of agreeing (x, w) bit pairs among three, popcount(~(x ^ w)) in 0..3: the
// first stage of dot_xnor's compressor tree, one Xilinx 7-series LUT6 per result bit (UG953), which keeps
// Yosys' ABC9 from re-mapping it into the adder tree; Verilator simulates the behavioural equivalent.
module xnor_count3 (
    input  logic [2:0] x,
    input  logic [2:0] w,
    output logic [1:0] count
);
`ifdef VERILATOR
    wire [2:0] agree = ~(x ^ w);
    assign count = 2'(agree[0]) + 2'(agree[1]) + 2'(agree[2]);
`else
    // INIT bit {w2, x2, w1, x1, w0, x0}: bit 0 (parity) and bit 1 (majority) of the agreeing pairs
    LUT6 #(.INIT(64'h9669699669969669)) u_lsb (
        .O(count[0]), .I0(x[0]), .I1(w[0]), .I2(x[1]), .I3(w[1]), .I4(x[2]), .I5(w[2]));
    LUT6 #(.INIT(64'hF99F90099009F99F)) u_msb (
        .O(count[1]), .I0(x[0]), .I1(w[0]), .I2(x[1]), .I3(w[1]), .I4(x[2]), .I5(w[2]));
`endif
endmodule
