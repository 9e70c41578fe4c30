// dot_mul: PE multi-bit dot products of SIMD operand pairs (multiply + adder tree), with
// unsigned, signed or bipolar weights and activations (see operand_decode); where either operand
// is 1-bit the product is a select (v, -v or 0) instead of a multiply.
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

    // A 1-bit operand takes two values, so its product with v is v, -v or 0: a choice, not a multiplier
    // (no DSP where an operand is binary). KIND as in operand_decode: 0 {0, 1}, 1 {0, -1}, 2 {-1, +1}.
    function automatic logic signed [PW-1:0] select_product(logic signed [PW-1:0] v, logic bit1, int kind);
        if (kind == 2) return bit1 ? v : -v;
        if (kind == 1) return bit1 ? -v : '0;
        return bit1 ? v : '0;
    endfunction

    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic [SIMD*PW-1:0] prods;
        for (genvar s = 0; s < SIMD; s++) begin : g_simd
            logic [IBITS-1:0] xr;
            logic [WBITS-1:0] wr;
            assign xr = x[s*IBITS +: IBITS];
            assign wr = w[(p*SIMD+s)*WBITS +: WBITS];
            if (WBITS == 1) begin : g_wsel
                logic signed [IBITS:0] xv;
                operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_x (.raw(xr), .value(xv));
                assign prods[s*PW +: PW] = select_product(PW'(xv), wr[0], WKIND);
            end else if (IBITS == 1) begin : g_xsel
                logic signed [WBITS:0] wv;
                operand_decode #(.BITS(WBITS), .KIND(WKIND)) u_w (.raw(wr), .value(wv));
                assign prods[s*PW +: PW] = select_product(PW'(wv), xr[0], IKIND);
            end else begin : g_mul
                logic signed [IBITS:0] xv;
                logic signed [WBITS:0] wv;
                operand_decode #(.BITS(IBITS), .KIND(IKIND)) u_x (.raw(xr), .value(xv));
                operand_decode #(.BITS(WBITS), .KIND(WKIND)) u_w (.raw(wr), .value(wv));
                assign prods[s*PW +: PW] = PW'(xv) * PW'(wv);
            end
        end
        adder_tree #(.N(SIMD), .IW(PW), .SIGNED(1'b1)) u_sum (.in_data(prods), .sum(dots[p*DW +: DW]));
    end
endmodule
