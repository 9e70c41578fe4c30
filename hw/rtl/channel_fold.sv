// channel_fold: the channel-fold counter and first pipeline stage's valid shared by the
// per-channel layers (thresholding, channelwise_lut, pool): cf counts accepted words
// modulo CF (the ROM or accumulator address of the word now at the input), valid_s1 is the
// input's valid one enabled cycle later.
module channel_fold #(
    parameter int CF = 4   // channel folds (channels / PE)
) (
    input  logic                                clk,
    input  logic                                rst_n,
    input  logic                                en,        // the stage after the input advances
    input  logic                                in_valid,
    output logic [$clog2(CF > 1 ? CF : 2)-1:0]  cf,
    output logic                                valid_s1
);
    localparam int CFW = $clog2(CF > 1 ? CF : 2);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            cf       <= '0;
            valid_s1 <= 1'b0;
        end else begin
            if (en && in_valid) cf <= cf == CFW'(CF - 1) ? '0 : cf + 1'b1;
            if (en) valid_s1 <= in_valid;
        end
    end
endmodule
