// dot_xnor: PE binary dot products of SIMD bits each: popcount(~(x ^ w)), the number of
// positions where the bipolar operands agree (FINN's xnorpopcount). finn-rtllib has no 1-bit MVU.
module dot_xnor #(
    parameter int PE   = 1,
    parameter int SIMD = 8,
    parameter int DW   = $clog2(SIMD) + 2   // signed result width per PE
) (
    input  logic [SIMD-1:0]    x,
    input  logic [PE*SIMD-1:0] w,
    output logic [PE*DW-1:0]   dots
);
    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic [$clog2(SIMD):0] count;
        adder_tree #(.N(SIMD), .IW(1)) u_pop (.in_data(~(x ^ w[p*SIMD +: SIMD])), .sum(count));
        assign dots[p*DW +: DW] = DW'(count);
    end
endmodule
