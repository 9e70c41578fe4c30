// dot_mul: PE multi-bit dot products of SIMD operand pairs (multiply + adder tree), with
// unsigned, signed or bipolar weights and activations (see operand_decode).
module dot_mul #(
    parameter int PE    = 1,
    parameter int SIMD  = 4,
    parameter int IBITS = 4,
    parameter int WBITS = 4,
    parameter int IKIND = 0,
    parameter int WKIND = 1,
    parameter int DW    = IBITS + WBITS + 2 + $clog2(SIMD)   // signed result width per PE
) (
    input  logic [SIMD*IBITS-1:0]    x,
    input  logic [PE*SIMD*WBITS-1:0] w,
    output logic [PE*DW-1:0]         dots
);
    localparam int PW = IBITS + WBITS + 2;   // product width
    logic signed [IBITS:0] xv [SIMD];

    for (genvar s = 0; s < SIMD; s++) begin : g_x
        operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_dec (.raw(x[s*IBITS +: IBITS]), .value(xv[s]));
    end
    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic [SIMD*PW-1:0] prods;
        for (genvar s = 0; s < SIMD; s++) begin : g_simd
            logic signed [WBITS:0] wv;
            operand_decode #(.BITS(WBITS), .KIND(WKIND)) u_dec (.raw(w[(p*SIMD+s)*WBITS +: WBITS]), .value(wv));
            assign prods[s*PW +: PW] = PW'(xv[s]) * PW'(wv);
        end
        adder_tree #(.N(SIMD), .IW(PW), .SIGNED(1'b1)) u_sum (.in_data(prods), .sum(dots[p*DW +: DW]));
    end
endmodule
