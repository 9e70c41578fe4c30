// axi_dma_rd: AXI4 read DMA, DDR -> AXI stream, in INCR bursts that never cross 4 KiB, several outstanding;
// ours (not Xilinx's AXI DMA IP) so the whole shell is open SystemVerilog that Verilator simulates cycle-accurately.
// Without a prefetch FIFO (FIFO 0) the stream's backpressure reaches the interconnect as RREADY; with one, a burst
// is issued only when the FIFO has room for all its beats (counting those requested and not yet taken), so RREADY
// stays high and up to FIFO beats are fetched ahead of the consumer: a weight stream then runs at
// max(compute, bandwidth). The FIFO is a ram_fifo (registered-read RAM: block or LUT RAM as the tools choose).
// Addresses are taken as DATA_W/8-aligned.
// A run reads `beats` beats from `addr` `rounds` times over (1 for frames; the frame count for the weight
// stream, which brings a layer's whole weight matrix again with every frame).
module axi_dma_rd #(
    parameter int DATA_W    = 64,   // 64 (Zynq-7000 HP) or 128 (Zynq UltraScale+)
    parameter int ADDR_W    = 32,
    parameter int MAX_BURST = 64,   // beats per burst, 1..256
    parameter int MAX_OUT   = 4,    // bursts in flight (address issued, last beat not yet received)
    parameter int FIFO      = 0     // prefetch FIFO beats (>= MAX_BURST), 0: none
) (
    input  logic              ap_clk,
    input  logic              ap_rst_n,
    input  logic              start,       // pulse: read `beats` beats from `addr`, `rounds` times over
    input  logic [ADDR_W-1:0] addr,
    input  logic [31:0]       beats,
    input  logic [31:0]       rounds,      // 0 reads nothing
    output logic              busy,
    output logic              done,        // pulse: the last beat has been handed to the stream
    output logic              error,       // pulse: a beat came back with SLVERR or DECERR
    // AXI4 master, read channels
    output logic [0:0]        m_axi_ARID,
    output logic [ADDR_W-1:0] m_axi_ARADDR,
    output logic [7:0]        m_axi_ARLEN,
    output logic [2:0]        m_axi_ARSIZE,
    output logic [1:0]        m_axi_ARBURST,
    output logic [3:0]        m_axi_ARCACHE,
    output logic [2:0]        m_axi_ARPROT,
    output logic              m_axi_ARVALID,
    input  logic              m_axi_ARREADY,
    /* verilator lint_off UNUSEDSIGNAL */  // one ID; OKAY and EXOKAY alike
    input  logic [0:0]        m_axi_RID,
    input  logic [DATA_W-1:0] m_axi_RDATA,
    input  logic [1:0]        m_axi_RRESP,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic              m_axi_RLAST,
    input  logic              m_axi_RVALID,
    output logic              m_axi_RREADY,
    // AXI stream out
    output logic [DATA_W-1:0] out0_V_TDATA,
    output logic              out0_V_TVALID,
    input  logic              out0_V_TREADY
);
    localparam int BYTES = DATA_W / 8;
    localparam int SHIFT = $clog2(BYTES);
    localparam int OW    = $clog2(MAX_OUT + 1);

    logic [ADDR_W-1:0] next_addr, base;
    logic [31:0]       left;           // beats of this round not yet requested
    logic [31:0]       more;           // rounds after this one
    logic [31:0]       round_beats;
    logic [OW-1:0]     in_flight;
    logic [12:0]       to_page, len;
    logic              issue, beat, last_beat, room;
    logic [31:0]       claimed;        // prefetch FIFO beats requested or held, not yet taken by the stream
    logic              r_ready;

    // the next burst: the beats left, at most MAX_BURST, and no further than the 4 KiB page's end
    assign to_page = 13'((4096 - int'(next_addr[11:0])) >> SHIFT);
    always_comb begin
        len = to_page;
        if (len > 13'(MAX_BURST)) len = 13'(MAX_BURST);
        if (32'(len) > left) len = 13'(left);
    end
    assign room  = FIFO == 0 || claimed + 32'(len) <= 32'(FIFO);
    assign issue = busy && left != 0 && !m_axi_ARVALID && in_flight != OW'(MAX_OUT) && room;

    assign m_axi_ARID    = 1'b0;
    assign m_axi_ARSIZE  = 3'(SHIFT);
    assign m_axi_ARBURST = 2'b01;        // INCR
    assign m_axi_ARCACHE = 4'b0011;      // normal, non-cacheable, bufferable
    assign m_axi_ARPROT  = 3'b000;
    assign m_axi_RREADY  = r_ready;
    assign beat      = m_axi_RVALID && r_ready;
    assign last_beat = beat && m_axi_RLAST;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            busy <= 1'b0;
            done <= 1'b0;
            error <= 1'b0;
            left <= '0;
            in_flight <= '0;
            m_axi_ARVALID <= 1'b0;
        end else begin
            done <= 1'b0;
            error <= beat && m_axi_RRESP[1];
            if (start && !busy) begin
                busy <= 1'b1;
                next_addr <= addr;
                base <= addr;
                left <= rounds == 0 ? '0 : beats;
                round_beats <= beats;
                more <= rounds == 0 ? '0 : rounds - 32'd1;
            end else if (busy && left == 0 && in_flight == 0 && !m_axi_ARVALID && claimed == 0) begin
                busy <= 1'b0;
                done <= 1'b1;
            end
            if (issue) begin
                m_axi_ARVALID <= 1'b1;
                m_axi_ARADDR <= next_addr;
                m_axi_ARLEN <= 8'(len - 13'd1);
                next_addr <= next_addr + (ADDR_W'(len) << SHIFT);
                left <= left - 32'(len);
                if (32'(len) == left && more != 0) begin   // the round's last burst: the next round from `addr`
                    next_addr <= base;
                    left <= round_beats;
                    more <= more - 32'd1;
                end
            end else if (m_axi_ARREADY) begin
                m_axi_ARVALID <= 1'b0;
            end
            in_flight <= in_flight + OW'(issue) - OW'(last_beat);
        end
    end

    generate
        if (FIFO == 0) begin : g_direct
            assign out0_V_TDATA  = m_axi_RDATA;
            assign out0_V_TVALID = m_axi_RVALID;
            assign r_ready = out0_V_TREADY;
            assign claimed = '0;
        end else begin : g_prefetch
            ram_fifo #(.W(DATA_W), .DEPTH(FIFO)) u_fifo (
                .ap_clk, .ap_rst_n, .in0_V_TDATA(m_axi_RDATA), .in0_V_TVALID(m_axi_RVALID), .in0_V_TREADY(r_ready),
                .out0_V_TDATA, .out0_V_TVALID, .out0_V_TREADY);
            always_ff @(posedge ap_clk) begin
                if (!ap_rst_n) claimed <= '0;
                else claimed <= claimed + (issue ? 32'(len) : 32'd0) - 32'(out0_V_TVALID && out0_V_TREADY);
            end
        end
    endgenerate
endmodule
