// add3_tree: sums N packed unsigned IW-bit operands in a balanced tree of ternary adders (add3), half
// the LUTs of a binary tree (adder_tree) on 7-series carry chains; two operands take one binary add.
module add3_tree #(
    parameter int N  = 3,   // number of operands
    parameter int IW = 2    // operand width
) (
    input  logic [N*IW-1:0]         in_data,
    output logic [IW+$clog2(N)-1:0] sum
);
    localparam int OW = IW + $clog2(N);
    if (N == 1) begin : g_leaf
        assign sum = in_data;
    end else if (N == 2) begin : g_pair
        assign sum = OW'(in_data[IW-1:0]) + OW'(in_data[2*IW-1:IW]);
    end else begin : g_node
        localparam int NA = N / 3;
        localparam int NB = (N - NA) / 2;
        localparam int NC = N - NA - NB;          // NA <= NB <= NC
        localparam int SW = IW + $clog2(NC);      // widest part sum
        logic [IW+$clog2(NA)-1:0] sum_a;
        logic [IW+$clog2(NB)-1:0] sum_b;
        logic [SW-1:0]            sum_c;
        /* verilator lint_off UNUSEDSIGNAL */   // its top bits are 0 when OW < SW + 2
        logic [SW+1:0]            total;
        /* verilator lint_on UNUSEDSIGNAL */
        add3_tree #(.N(NA), .IW(IW)) u_a (.in_data(in_data[NA*IW-1:0]), .sum(sum_a));
        add3_tree #(.N(NB), .IW(IW)) u_b (.in_data(in_data[(NA+NB)*IW-1:NA*IW]), .sum(sum_b));
        add3_tree #(.N(NC), .IW(IW)) u_c (.in_data(in_data[N*IW-1:(NA+NB)*IW]), .sum(sum_c));
        add3 #(.W(SW)) u_add (.a(SW'(sum_a)), .b(SW'(sum_b)), .c(sum_c), .sum(total));
        assign sum = OW'(total);   // N * (2**IW - 1) fits OW bits
    end
endmodule
