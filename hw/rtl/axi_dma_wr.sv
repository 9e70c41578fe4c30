// axi_dma_wr: AXI4 write DMA, AXI stream -> DDR, in INCR bursts that never cross 4 KiB; ours (not Xilinx's AXI
// DMA IP) so the whole shell is open SystemVerilog that Verilator simulates cycle-accurately. A burst's address
// is issued only once all its beats are in its RAM FIFO, so WVALID never stalls the interconnect mid-burst;
// done follows the last write response. Addresses are taken as DATA_W/8-aligned.
module axi_dma_wr #(
    parameter int DATA_W    = 64,             // 64 (Zynq-7000 HP) or 128 (Zynq UltraScale+)
    parameter int ADDR_W    = 32,
    parameter int MAX_BURST = 64,             // beats per burst, 1..256
    parameter int MAX_OUT   = 4,              // bursts issued whose write response is not back yet
    parameter int DEPTH     = 2 * MAX_BURST   // FIFO beats: two bursts, so one fills while one is written
) (
    input  logic              ap_clk,
    input  logic              ap_rst_n,
    input  logic              start,          // pulse: write `beats` beats to `addr`
    input  logic [ADDR_W-1:0] addr,
    input  logic [31:0]       beats,
    output logic              busy,
    output logic              done,           // pulse: the last write response is back
    output logic              error,          // pulse: a write response was SLVERR or DECERR
    // AXI stream in
    input  logic [DATA_W-1:0] in0_V_TDATA,
    input  logic              in0_V_TVALID,
    output logic              in0_V_TREADY,
    // AXI4 master, write channels
    output logic [0:0]        m_axi_AWID,
    output logic [ADDR_W-1:0] m_axi_AWADDR,
    output logic [7:0]        m_axi_AWLEN,
    output logic [2:0]        m_axi_AWSIZE,
    output logic [1:0]        m_axi_AWBURST,
    output logic [3:0]        m_axi_AWCACHE,
    output logic [2:0]        m_axi_AWPROT,
    output logic              m_axi_AWVALID,
    input  logic              m_axi_AWREADY,
    output logic [DATA_W-1:0] m_axi_WDATA,
    output logic [DATA_W/8-1:0] m_axi_WSTRB,
    output logic              m_axi_WLAST,
    output logic              m_axi_WVALID,
    input  logic              m_axi_WREADY,
    /* verilator lint_off UNUSEDSIGNAL */  // one ID; OKAY and EXOKAY alike
    input  logic [0:0]        m_axi_BID,
    input  logic [1:0]        m_axi_BRESP,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic              m_axi_BVALID,
    output logic              m_axi_BREADY
);
    localparam int BYTES = DATA_W / 8;
    localparam int SHIFT = $clog2(BYTES);
    localparam int CW    = $clog2(DEPTH + 2);
    localparam int OW    = $clog2(MAX_OUT + 1);

    // FIFO: RAM with registered read (LUT RAM for two 16-beat bursts, block RAM for larger), plus its output
    // register q (first word fall-through)
    logic [CW-1:0]     unclaimed;         // words in the FIFO not yet given to an issued burst
    logic [DATA_W-1:0] q;
    logic              q_valid, q_ready, push, pop;

    // bursts: the one being planned, and the lengths of those issued whose data is not yet all sent
    logic [ADDR_W-1:0] next_addr;
    logic [31:0]       left;              // beats not yet given to a burst
    logic [12:0]       to_page, len;
    logic [OW-1:0]     waiting_b;         // bursts issued whose write response is not back
    logic [7:0]        beat_idx;
    logic              claim, lens_in_ready, lens_valid, b_ok;
    logic [7:0]        head_len;

    assign push = in0_V_TVALID && in0_V_TREADY;
    assign pop  = m_axi_WVALID && m_axi_WREADY;
    assign q_ready = m_axi_WREADY && lens_valid;

    ram_fifo #(.W(DATA_W), .DEPTH(DEPTH)) u_fifo (
        .ap_clk, .ap_rst_n, .in0_V_TDATA, .in0_V_TVALID, .in0_V_TREADY,
        .out0_V_TDATA(q), .out0_V_TVALID(q_valid), .out0_V_TREADY(q_ready));

    // the next burst: the beats left, at most MAX_BURST, and no further than the 4 KiB page's end
    assign to_page = 13'((4096 - int'(next_addr[11:0])) >> SHIFT);
    always_comb begin
        len = to_page;
        if (len > 13'(MAX_BURST)) len = 13'(MAX_BURST);
        if (32'(len) > left) len = 13'(left);
    end
    assign claim = busy && left != 0 && !m_axi_AWVALID && waiting_b != OW'(MAX_OUT) && lens_in_ready
                   && unclaimed >= CW'(len);

    stream_fifo #(.W(8), .DEPTH(MAX_OUT)) u_lens (
        .ap_clk, .ap_rst_n,
        .in0_V_TDATA(8'(len - 13'd1)), .in0_V_TVALID(claim), .in0_V_TREADY(lens_in_ready),
        .out0_V_TDATA(head_len), .out0_V_TVALID(lens_valid), .out0_V_TREADY(pop && m_axi_WLAST));

    assign m_axi_AWID    = 1'b0;
    assign m_axi_AWSIZE  = 3'(SHIFT);
    assign m_axi_AWBURST = 2'b01;         // INCR
    assign m_axi_AWCACHE = 4'b0011;       // normal, non-cacheable, bufferable
    assign m_axi_AWPROT  = 3'b000;
    assign m_axi_WDATA   = q;
    assign m_axi_WSTRB   = '1;
    assign m_axi_WVALID  = q_valid && lens_valid;
    assign m_axi_WLAST   = beat_idx == head_len;
    assign m_axi_BREADY  = 1'b1;
    assign b_ok = m_axi_BVALID;

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            unclaimed <= '0;
            beat_idx <= '0;
        end else begin
            unclaimed <= unclaimed + CW'(push) - (claim ? CW'(len) : '0);
            if (pop) beat_idx <= m_axi_WLAST ? '0 : beat_idx + 8'd1;
        end
    end

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            busy <= 1'b0;
            done <= 1'b0;
            error <= 1'b0;
            left <= '0;
            waiting_b <= '0;
            m_axi_AWVALID <= 1'b0;
        end else begin
            done <= 1'b0;
            error <= b_ok && m_axi_BRESP[1];
            if (start && !busy) begin
                busy <= 1'b1;
                next_addr <= addr;
                left <= beats;
            end else if (busy && left == 0 && waiting_b == 0 && !m_axi_AWVALID) begin
                busy <= 1'b0;
                done <= 1'b1;
            end
            if (claim) begin
                m_axi_AWVALID <= 1'b1;
                m_axi_AWADDR <= next_addr;
                m_axi_AWLEN <= 8'(len - 13'd1);
                next_addr <= next_addr + (ADDR_W'(len) << SHIFT);
                left <= left - 32'(len);
            end else if (m_axi_AWREADY) begin
                m_axi_AWVALID <= 1'b0;
            end
            waiting_b <= waiting_b + OW'(claim) - OW'(b_ok);
        end
    end
endmodule
