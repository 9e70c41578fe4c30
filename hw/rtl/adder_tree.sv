// adder_tree: sums N packed IW-bit operands in a balanced binary tree (recursive instantiation).
// Our own because finn-rtllib's add_multi fails under Verilator (constant function under
// generate); a recursive tree keeps every adder exactly as wide as its partial sum.
module adder_tree #(
    parameter int N      = 4,     // number of operands
    parameter int IW     = 1,     // operand width
    parameter bit SIGNED = 1'b0   // operands are two's complement (else unsigned)
) (
    input  logic [N*IW-1:0]           in_data,
    output logic [IW+$clog2(N)-1:0]   sum
);
    localparam int OW = IW + $clog2(N);
    if (N == 1) begin : g_leaf
        assign sum = in_data;
    end else begin : g_node
        localparam int NL = N / 2;
        localparam int NR = N - NL;
        logic [IW+$clog2(NL)-1:0] sum_l;
        logic [IW+$clog2(NR)-1:0] sum_r;
        adder_tree #(.N(NL), .IW(IW), .SIGNED(SIGNED)) u_l (.in_data(in_data[NL*IW-1:0]), .sum(sum_l));
        adder_tree #(.N(NR), .IW(IW), .SIGNED(SIGNED)) u_r (.in_data(in_data[N*IW-1:NL*IW]), .sum(sum_r));
        if (SIGNED) begin : g_signed
            assign sum = OW'($signed(sum_l)) + OW'($signed(sum_r));
        end else begin : g_unsigned
            assign sum = OW'(sum_l) + OW'(sum_r);
        end
    end
endmodule
