// Test-only behavioural model of the Xilinx 7-series LUT6 (UG953): O = INIT[{I5, I4, I3, I2, I1, I0}].
module LUT6 #(parameter [63:0] INIT = 64'h0) (output O, input I0, I1, I2, I3, I4, I5);
    assign O = INIT[{I5, I4, I3, I2, I1, I0}];
endmodule
