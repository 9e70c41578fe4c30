// axil_regfile: the shell's AXI4-Lite register file (start, status, buffer addresses, run counters, build ID);
// ours because the open shell needs a documented register map that the driver and Verilator share.
//
// Register map, version 2 (32-bit registers, byte addresses; xnorflow/hw/driver.py `Reg` names the same):
//   0x00 CTRL (bit 0 START)        0x04 STATUS (DONE 1, BUSY 2, ERROR 4)   0x08 / 0x0C BUILD_ID_LO / _HI
//   0x10 FRAMES per run            0x14 / 0x18 IN_ADDR_LO / _HI            0x1C / 0x20 OUT_ADDR_LO / _HI
//   0x24 / 0x28 CYCLES_LO / _HI    0x2C LATENCY                            0x30 IN_STRIDE, 0x34 OUT_STRIDE
//   0x38 WEIGHT_PORTS (N)          0x44 MAGIC 0x584E464C ("XNFL")          0x48 VERSION 2
//   weight port k < N (the core's w<k>_V, master m_axi_wmem<k>), at 0x50 + 0x10 k: +0x0 / +0x4 WEIGHT_ADDR_LO / _HI,
//   +0x8 WEIGHT_BYTES (its weight frame's stride in DDR). N <= 11: the 8-bit address space ends at 0xFF.
// Unmapped reads return 0; writes to read-only registers are ignored.
module axil_regfile #(
    parameter logic [63:0] BUILD_ID     = 64'h0,
    parameter int          IN_STRIDE    = 0,     // bytes per input frame in DDR
    parameter int          OUT_STRIDE   = 0,     // bytes per output frame in DDR
    parameter int          WEIGHT_PORTS = 0,     // weight streams (N <= 11)
    // bytes of weight stream k per frame at [32 k +: 32]
    parameter logic [32*(WEIGHT_PORTS > 0 ? WEIGHT_PORTS : 1)-1:0] WEIGHT_BYTES = '0
) (
    input  logic        ap_clk,
    input  logic        ap_rst_n,
    // AXI4-Lite slave
    input  logic [7:0]  s_axi_control_AWADDR,
    input  logic        s_axi_control_AWVALID,
    output logic        s_axi_control_AWREADY,
    input  logic [31:0] s_axi_control_WDATA,
    input  logic [3:0]  s_axi_control_WSTRB,
    input  logic        s_axi_control_WVALID,
    output logic        s_axi_control_WREADY,
    output logic [1:0]  s_axi_control_BRESP,
    output logic        s_axi_control_BVALID,
    input  logic        s_axi_control_BREADY,
    /* verilator lint_off UNUSEDSIGNAL */  // registers are word-aligned: address bits [1:0] are ignored
    input  logic [7:0]  s_axi_control_ARADDR,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic        s_axi_control_ARVALID,
    output logic        s_axi_control_ARREADY,
    output logic [31:0] s_axi_control_RDATA,
    output logic [1:0]  s_axi_control_RRESP,
    output logic        s_axi_control_RVALID,
    input  logic        s_axi_control_RREADY,
    // run control
    output logic        start,        // one-cycle pulse: a START accepted while idle
    output logic [31:0] frames,
    output logic [63:0] in_addr,
    output logic [63:0] out_addr,
    output logic [64*(WEIGHT_PORTS > 0 ? WEIGHT_PORTS : 1)-1:0] weight_addr,  // port k's at [64 k +: 64]
    input  logic        rd_done,      // pulse: the read DMA of this run has finished
    input  logic        wr_done,      // pulse: the write DMA's last write response is back
    input  logic        axi_error,    // pulse: an AXI SLVERR/DECERR response in this run
    input  logic        first_out,    // an output word leaves the core this cycle
    /* verilator lint_off SYMRSVDWORD */  // the name PYNQ and Vivado look for
    output logic        interrupt     // level: STATUS.DONE
    /* verilator lint_on SYMRSVDWORD */
);
    localparam logic [31:0] MAGIC   = 32'h584E_464C;  // "XNFL"
    localparam logic [31:0] VERSION = 32'd2;
    localparam int          W_BASE  = 'h14;      // register index of weight port 0's WEIGHT_ADDR_LO (0x50)

    logic        aw_full, w_full, do_write;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [7:0]  aw_addr;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [31:0] w_data;
    logic [3:0]  w_strb;
    logic        done, busy, error, rd_seen, wr_seen, out_seen;
    logic [63:0] cycles;
    logic [31:0] latency;

    // write channel: address and data are taken independently, the write happens once both are held
    assign s_axi_control_AWREADY = !aw_full;
    assign s_axi_control_WREADY  = !w_full;
    assign s_axi_control_BRESP   = 2'b00;
    assign do_write = aw_full && w_full && (!s_axi_control_BVALID || s_axi_control_BREADY);
    assign start    = do_write && aw_addr[7:2] == 6'h00 && w_strb[0] && w_data[0] && !busy;
    assign interrupt = done;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            aw_full <= 1'b0;
            w_full <= 1'b0;
            s_axi_control_BVALID <= 1'b0;
        end else begin
            if (s_axi_control_AWVALID && !aw_full) begin
                aw_full <= 1'b1;
                aw_addr <= s_axi_control_AWADDR;
            end else if (do_write) aw_full <= 1'b0;
            if (s_axi_control_WVALID && !w_full) begin
                w_full <= 1'b1;
                w_data <= s_axi_control_WDATA;
                w_strb <= s_axi_control_WSTRB;
            end else if (do_write) w_full <= 1'b0;
            if (do_write) s_axi_control_BVALID <= 1'b1;
            else if (s_axi_control_BREADY) s_axi_control_BVALID <= 1'b0;
        end
    end

    function automatic logic [31:0] merged(input logic [31:0] old, input logic [31:0] data, input logic [3:0] strb);
        for (int b = 0; b < 4; b++) if (strb[b]) old[8*b +: 8] = data[8*b +: 8];
        return old;
    endfunction

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            frames <= '0;
            in_addr <= '0;
            out_addr <= '0;
            weight_addr <= '0;
        end else if (do_write) begin
            case (aw_addr[7:2])
                6'h04: frames            <= merged(frames, w_data, w_strb);
                6'h05: in_addr[31:0]     <= merged(in_addr[31:0], w_data, w_strb);
                6'h06: in_addr[63:32]    <= merged(in_addr[63:32], w_data, w_strb);
                6'h07: out_addr[31:0]    <= merged(out_addr[31:0], w_data, w_strb);
                6'h08: out_addr[63:32]   <= merged(out_addr[63:32], w_data, w_strb);
                default: ;
            endcase
            for (int k = 0; k < WEIGHT_PORTS; k++)
                for (int half = 0; half < 2; half++)
                    if (int'(aw_addr[7:2]) == W_BASE + 4 * k + half)
                        weight_addr[64 * k + 32 * half +: 32] <= merged(weight_addr[64 * k + 32 * half +: 32],
                                                                        w_data, w_strb);
        end
    end

    // run state: BUSY from START until both DMAs are done; DONE and ERROR are cleared by the next START
    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            {done, busy, error, rd_seen, wr_seen, out_seen} <= '0;
            cycles <= '0;
            latency <= '0;
        end else if (start) begin
            {done, error, rd_seen, wr_seen, out_seen} <= '0;
            busy <= 1'b1;
            cycles <= '0;
            latency <= '0;
        end else if (busy) begin
            cycles <= cycles + 64'd1;
            if (first_out && !out_seen) begin
                out_seen <= 1'b1;
                latency <= cycles[31:0] + 32'd1;
            end
            if (axi_error) error <= 1'b1;
            if (rd_done) rd_seen <= 1'b1;
            if (wr_done) wr_seen <= 1'b1;
            if ((rd_done || rd_seen) && (wr_done || wr_seen)) begin
                busy <= 1'b0;
                done <= 1'b1;
            end
        end
    end

    function automatic logic [31:0] register(input logic [5:0] index);
        int k = (int'(index) - W_BASE) / 4;
        if (int'(index) >= W_BASE && k < WEIGHT_PORTS)
            case (int'(index) % 4)
                0: return weight_addr[64 * k +: 32];
                1: return weight_addr[64 * k + 32 +: 32];
                2: return WEIGHT_BYTES[32 * k +: 32];
                default: return 32'd0;
            endcase
        case (index)
            6'h01: return {29'd0, error, busy, done};
            6'h02: return BUILD_ID[31:0];
            6'h03: return BUILD_ID[63:32];
            6'h04: return frames;
            6'h05: return in_addr[31:0];
            6'h06: return in_addr[63:32];
            6'h07: return out_addr[31:0];
            6'h08: return out_addr[63:32];
            6'h09: return cycles[31:0];
            6'h0A: return cycles[63:32];
            6'h0B: return latency;
            6'h0C: return 32'(IN_STRIDE);
            6'h0D: return 32'(OUT_STRIDE);
            6'h0E: return 32'(WEIGHT_PORTS);
            6'h11: return MAGIC;
            6'h12: return VERSION;
            default: return 32'd0;
        endcase
    endfunction

    // read channel: one outstanding read, the data registered at the address handshake
    assign s_axi_control_ARREADY = !s_axi_control_RVALID;
    assign s_axi_control_RRESP   = 2'b00;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            s_axi_control_RVALID <= 1'b0;
        end else if (s_axi_control_ARVALID && s_axi_control_ARREADY) begin
            s_axi_control_RVALID <= 1'b1;
            s_axi_control_RDATA <= register(s_axi_control_ARADDR[7:2]);
        end else if (s_axi_control_RREADY) begin
            s_axi_control_RVALID <= 1'b0;
        end
    end
endmodule
