// operand_decode: widens one FINN-encoded operand to a signed value (BITS+1 bits wide).
// KIND 0 = unsigned integer, 1 = signed (two's complement), 2 = bipolar (bit 0 -> -1, 1 -> +1).
module operand_decode #(
    parameter int BITS = 4,
    parameter int KIND = 0
) (
    input  logic [BITS-1:0]      raw,
    output logic signed [BITS:0] value
);
    if (KIND == 2) begin : g_bipolar
        assign value = raw[0] ? (BITS+1)'(1) : -(BITS+1)'(1);
    end else if (KIND == 1) begin : g_signed
        assign value = (BITS+1)'($signed(raw));
    end else begin : g_unsigned
        assign value = {1'b0, raw};
    end
endmodule
