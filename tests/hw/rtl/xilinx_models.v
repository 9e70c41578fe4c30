// Test-only behavioural models of the Xilinx 7-series primitives our RTL instantiates (UG953):
// LUT6 (O = INIT[{I5..I0}]), LUT6_2 (O6 as LUT6, O5 = INIT[{I4..I0}]) and the CARRY4 chain.
module LUT6 #(parameter [63:0] INIT = 64'h0) (output O, input I0, I1, I2, I3, I4, I5);
    assign O = INIT[{I5, I4, I3, I2, I1, I0}];
endmodule

module LUT6_2 #(parameter [63:0] INIT = 64'h0) (output O6, O5, input I0, I1, I2, I3, I4, I5);
    assign O6 = INIT[{I5, I4, I3, I2, I1, I0}];
    assign O5 = INIT[{1'b0, I4, I3, I2, I1, I0}];
endmodule

module CARRY4 (output [3:0] CO, O, input CI, CYINIT, input [3:0] DI, S);
    wire [4:0] c = {CO, CI | CYINIT};   // carry into each bit
    assign O = S ^ c[3:0];
    assign CO = (S & c[3:0]) | (~S & DI);
endmodule
