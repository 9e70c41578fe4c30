// add3: sum of three unsigned W-bit operands in one carry chain, the 7-series ternary adder (one LUT6_2
// per bit: O5 = majority(a, b, c) goes to the next bit, O6 = a ^ b ^ c ^ majority of the bit below, and
// a CARRY4 adds the two; Xilinx UG474, UG953). Primitives so that Yosys' ABC9 keeps it; Verilator
// simulates the behavioural equivalent.
module add3 #(
    parameter int W = 2
) (
    input  logic [W-1:0] a,
    input  logic [W-1:0] b,
    input  logic [W-1:0] c,
    output logic [W+1:0] sum
);
`ifdef VERILATOR
    assign sum = (W+2)'(a) + (W+2)'(b) + (W+2)'(c);
`else
    localparam int NB = W + 1;            // LUT bits; the top sum bit is the chain's carry out
    localparam int NC = (NB + 3) / 4;     // CARRY4 blocks
    wire  [NB-1:0]   az = NB'(a), bz = NB'(b), cz = NB'(c);
    logic [NB:0]     maj;                 // maj[i]: majority of bit i - 1
    logic [4*NC-1:0] s, di, o, co;
    assign maj[0] = 1'b0;
    for (genvar i = 0; i < 4 * NC; i++) begin : g_bit
        if (i < NB) begin : g_lut
            LUT6_2 #(.INIT(64'h69966996_E8E8E8E8)) u_lut (
                .O6(s[i]), .O5(maj[i+1]),
                .I0(az[i]), .I1(bz[i]), .I2(cz[i]), .I3(maj[i]), .I4(1'b0), .I5(1'b1));
            assign di[i] = maj[i];
        end else begin : g_pad
            assign s[i]  = 1'b0;
            assign di[i] = 1'b0;
        end
    end
    for (genvar k = 0; k < NC; k++) begin : g_chain
        CARRY4 u_carry (.CO(co[4*k +: 4]), .O(o[4*k +: 4]), .CI(k == 0 ? 1'b0 : co[4*k-1]), .CYINIT(1'b0),
                        .DI(di[4*k +: 4]), .S(s[4*k +: 4]));
    end
    assign sum = {co[NB-1], o[NB-1:0]};
`endif
endmodule
