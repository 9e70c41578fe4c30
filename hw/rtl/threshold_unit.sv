// threshold_unit: FINN MultiThreshold for one channel: counts the thresholds the value
// reaches (value >= t_i, all N compared in parallel, so they need not be sorted) and adds ActVal.
module threshold_unit #(
    parameter int N      = 1,   // thresholds per channel
    parameter int VW     = 8,   // width of value and thresholds (two's complement)
    parameter int OBITS  = 1,   // output width
    parameter int ACTVAL = 0    // added to the count (FINN ActVal)
) (
    input  logic [VW-1:0]   value,
    input  logic [N*VW-1:0] thresholds,
    output logic [OBITS-1:0] result
);
    logic [N-1:0]              reached;
    logic [$clog2(N):0]        count;

    for (genvar i = 0; i < N; i++) begin : g_cmp
        assign reached[i] = $signed(value) >= $signed(thresholds[i*VW +: VW]);
    end
    adder_tree #(.N(N), .IW(1)) u_count (.in_data(reached), .sum(count));
    assign result = OBITS'(32'(count) + ACTVAL);
endmodule
