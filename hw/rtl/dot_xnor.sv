// dot_xnor: PE binary dot products of SIMD bits each: popcount(~(x ^ w)), the number of
// positions where the bipolar operands agree (FINN's xnorpopcount). finn-rtllib has no 1-bit MVU.
// A compressor tree: xnor_count3 counts each 3 lanes into 2 bits (2 LUT6), add3_tree sums the counts.
module dot_xnor #(
    parameter int PE   = 1,
    parameter int SIMD = 8,
    parameter int DW   = $clog2(SIMD) + 2   // signed result width per PE
) (
    input  logic [SIMD-1:0]    x,
    input  logic [PE*SIMD-1:0] w,
    output logic [PE*DW-1:0]   dots
);
    localparam int G  = (SIMD + 2) / 3;   // groups of 3 lanes
    localparam int CW = 2 + $clog2(G);
    localparam bit [3*G-1:0] PAD = ~(3*G)'({SIMD{1'b1}});   // lanes past SIMD: x = 0, w = 1 disagree

    wire [3*G-1:0] xp = (3*G)'(x);
    for (genvar p = 0; p < PE; p++) begin : g_pe
        wire  [3*G-1:0] wp = (3*G)'(w[p*SIMD +: SIMD]) | PAD;
        logic [2*G-1:0] counts;
        logic [CW-1:0]  count;
        for (genvar g = 0; g < G; g++) begin : g_group
            xnor_count3 u_count (.x(xp[3*g +: 3]), .w(wp[3*g +: 3]), .count(counts[2*g +: 2]));
        end
        add3_tree #(.N(G), .IW(2)) u_sum (.in_data(counts), .sum(count));
        assign dots[p*DW +: DW] = DW'(count);
    end
endmodule
