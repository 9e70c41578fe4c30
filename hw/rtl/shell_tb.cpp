// shell_tb.cpp: cycle-accurate harness of a Verilated xnorflow_shell (class Vdut).
//
// DDR model: an AXI4 slave on the shell's m_axi_gmem port over a memory-mapped file (the python side maps the
// same file, so buffers are shared without copies). The file's first byte is at bus address `base`. Reads
// answer after a random latency (uniform in [rd_lat_min, rd_lat_max] cycles from the AR handshake, bursts
// pipelined), with RVALID gaps (probability r_gap per beat); ARREADY, AWREADY and WREADY drop with
// probabilities ar_stall, aw_stall, w_stall (seeded). Write responses come b_lat cycles after the last beat.
// Only INCR bursts of full-width beats are legal; a burst that crosses a 4 KiB boundary or touches bytes
// outside the memory is answered DECERR (nothing is read or written) and reported; any other violation
// (burst type, beat size, unaligned address, WLAST, a VALID dropped or a payload changed before READY) is
// reported as a protocol error. Reports go to stderr as `axi: ...` lines and are counted in `s`.
//
// AXI4-Lite master on s_axi_control, driven by one command per line on stdin, one answer line on stdout:
//   w ADDR VALUE  -> "w BRESP"            (write a register; numbers in decimal or 0x hex)
//   r ADDR        -> "r VALUE RRESP"      (read a register)
//   a N           -> "a CYCLES IRQ"       (advance up to N cycles, stopping early once `interrupt` is high)
//   s             -> one JSON line of statistics: cycle, the last START write's response cycle and the first
//                    cycle the interrupt was high after it (their difference is the run's length), reports,
//                    bytes moved, and per weight master the cycles an R beat waited for RREADY
//   q             -> the statistics line, then exit
// A Lite transaction that gets no answer within `lite_timeout` cycles answers "timeout". The data width
// comes from tb_ports.h (XF_AXI_BITS), which hw/verilator.py generates per design; XF_WMEM there is the number of
// weight masters m_axi_wmem0, m_axi_wmem1, ... (at most 11), whose read channels the same DDR model serves, each
// with its own bursts in flight, latencies, RVALID gaps and ARREADY stalls (its write channels must stay idle: a
// write there is reported as a protocol error).
#include "Vdut.h"
#include "verilated.h"
#include "tb_ports.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

namespace {

// Verilator escapes the port `interrupt` (a reserved word of some C++ compilers) as __SYM__interrupt.
#define IRQ_PORT __SYM__interrupt

constexpr unsigned BEAT = XF_AXI_BITS / 8;  // bytes per AXI beat
constexpr uint64_t PAGE = 4096;
constexpr unsigned DECERR = 3;

template <typename T> void set_port(T& port, const uint32_t* w) { port = static_cast<T>(w[0]); }
void set_port(QData& port, const uint32_t* w) { port = w[0] | (static_cast<QData>(w[1]) << 32); }
template <std::size_t N> void set_port(VlWide<N>& port, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <typename T> void get_port(const T& port, uint32_t* w) { w[0] = static_cast<uint32_t>(port); }
void get_port(const QData& port, uint32_t* w) {
    w[0] = static_cast<uint32_t>(port);
    w[1] = static_cast<uint32_t>(port >> 32);
}
template <std::size_t N> void get_port(const VlWide<N>& port, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}

struct Burst {
    uint64_t addr;
    unsigned len;  // beats - 1
    unsigned id;
    unsigned beat = 0;
    uint64_t ready_at = 0;
    bool decerr = false;
};

struct Response {
    unsigned id;
    unsigned resp;
    uint64_t ready_at;
};

struct Options {
    std::map<std::string, std::string> args;
    std::string get(const std::string& k, const std::string& d) const {
        auto it = args.find(k);
        return it == args.end() ? d : it->second;
    }
    double real(const std::string& k, double d) const { return std::stod(get(k, std::to_string(d))); }
    uint64_t num(const std::string& k, uint64_t d) const { return std::stoull(get(k, std::to_string(d)), nullptr, 0); }
};

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const char* eq = std::strchr(argv[i], '=');
        if (eq) o.args[std::string(argv[i], static_cast<std::size_t>(eq - argv[i]))] = std::string(eq + 1);
    }
    return o;
}

// The DDR: a shared mapping of the memory file, the bus address of its first byte, and the reports.
class Ddr {
  public:
    Ddr(const std::string& path, uint64_t base) : base_(base) {
        int fd = ::open(path.c_str(), O_RDWR);
        struct stat st {};
        if (fd < 0 || fstat(fd, &st) != 0) {
            std::fprintf(stderr, "cannot open memory file %s\n", path.c_str());
            std::exit(2);
        }
        size_ = static_cast<uint64_t>(st.st_size);
        mem_ = static_cast<uint8_t*>(mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        ::close(fd);
        if (mem_ == MAP_FAILED) {
            std::fprintf(stderr, "cannot map memory file %s\n", path.c_str());
            std::exit(2);
        }
    }
    ~Ddr() { munmap(mem_, size_); }

    // True (and a report) when a burst must answer DECERR: it leaves the memory or crosses a 4 KiB boundary.
    bool decerr(const char* dir, uint64_t addr, unsigned len) {
        uint64_t bytes = static_cast<uint64_t>(len + 1) * BEAT, last = addr + bytes - 1;
        if (addr < base_ || last >= base_ + size_) {
            report(true, std::string(dir) + " burst at 0x" + hex(addr) + " (" + std::to_string(bytes) +
                             " bytes) lies outside the memory [0x" + hex(base_) + ", 0x" + hex(base_ + size_) + ")");
            return true;
        }
        if (addr / PAGE != last / PAGE) {
            report(true, std::string(dir) + " burst at 0x" + hex(addr) + " (" + std::to_string(len + 1) +
                             " beats) crosses a 4 KiB boundary");
            return true;
        }
        return false;
    }
    void read_beat(uint64_t addr, uint32_t* w) const { std::memcpy(w, mem_ + (addr - base_), BEAT); }
    void write_beat(uint64_t addr, const uint32_t* w, uint64_t strb) {
        const uint8_t* bytes = reinterpret_cast<const uint8_t*>(w);
        for (unsigned i = 0; i < BEAT; ++i)
            if ((strb >> i) & 1) mem_[addr - base_ + i] = bytes[i];
    }
    void report(bool is_decerr, const std::string& what) {
        (is_decerr ? decerrs : protocol_errors)++;
        last_report = what;
        std::fprintf(stderr, "axi: %s\n", what.c_str());
    }
    static std::string hex(uint64_t v) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
        return buf;
    }
    uint64_t decerrs = 0, protocol_errors = 0, bytes_read = 0, bytes_written = 0;
    std::string last_report;

  private:
    uint64_t base_, size_ = 0;
    uint8_t* mem_ = nullptr;
};

// Holds a channel's VALID payload while READY is low, to report a VALID dropped or a payload changed early.
struct Stable {
    bool waiting = false;
    uint64_t payload = 0;
    void check(Ddr& ddr, const char* name, bool valid, bool ready, uint64_t now) {
        if (waiting && !valid) ddr.report(false, std::string(name) + "VALID dropped before " + name + "READY");
        else if (waiting && now != payload) ddr.report(false, std::string(name) + " payload changed before " + name + "READY");
        waiting = valid && !ready;
        payload = now;
    }
};

using Addr = std::remove_reference_t<decltype(std::declval<Vdut&>().m_axi_gmem_ARADDR)>;
using Data = std::remove_reference_t<decltype(std::declval<Vdut&>().m_axi_gmem_RDATA)>;

// One AXI4 master's read channels (AR, R): references to the model's ports, and what the DDR model holds for them.
struct ReadPort {
    CData &arvalid, &arready;
    Addr& araddr;
    CData &arlen, &arid, &arburst, &arsize, &rvalid, &rready, &rlast, &rid, &rresp;
    Data& rdata;
    const CData* awvalid = nullptr;  // a read-only master's write channel, which must stay idle
    const CData* wvalid = nullptr;
    uint64_t r_stalls = 0;  // cycles a beat waited for RREADY
    std::deque<Burst> ar{};
    bool r_valid = false;
    Stable ar_stable{};
};

#define XF_READ_PORT(p)                                                                                        \
    ReadPort {                                                                                                 \
        top_.p##_ARVALID, top_.p##_ARREADY, top_.p##_ARADDR, top_.p##_ARLEN, top_.p##_ARID, top_.p##_ARBURST,   \
            top_.p##_ARSIZE, top_.p##_RVALID, top_.p##_RREADY, top_.p##_RLAST, top_.p##_RID, top_.p##_RRESP,   \
            top_.p##_RDATA                                                                                     \
    }
#define XF_WMEM_PORT(k)                                                                                        \
    ReadPort {                                                                                                 \
        top_.m_axi_wmem##k##_ARVALID, top_.m_axi_wmem##k##_ARREADY, top_.m_axi_wmem##k##_ARADDR,               \
            top_.m_axi_wmem##k##_ARLEN, top_.m_axi_wmem##k##_ARID, top_.m_axi_wmem##k##_ARBURST,               \
            top_.m_axi_wmem##k##_ARSIZE, top_.m_axi_wmem##k##_RVALID, top_.m_axi_wmem##k##_RREADY,             \
            top_.m_axi_wmem##k##_RLAST, top_.m_axi_wmem##k##_RID, top_.m_axi_wmem##k##_RRESP,                  \
            top_.m_axi_wmem##k##_RDATA, &top_.m_axi_wmem##k##_AWVALID, &top_.m_axi_wmem##k##_WVALID            \
    }

class Harness {
  public:
    Harness(const Options& o, Ddr& ddr)
        : ddr_(ddr), rng_(o.num("seed", 1)), rd_lat_min_(o.num("rd_lat_min", 20)), rd_lat_max_(o.num("rd_lat_max", 20)),
          b_lat_(o.num("b_lat", 8)), r_gap_(o.real("r_gap", 0)), ar_stall_(o.real("ar_stall", 0)),
          aw_stall_(o.real("aw_stall", 0)), w_stall_(o.real("w_stall", 0)), lite_timeout_(o.num("lite_timeout", 10000)) {
        add_weight_ports();
        top_.ap_rst_n = 0;
        for (int i = 0; i < 8; ++i) tick();
        top_.ap_rst_n = 1;
        cycle = 0;
    }
    ~Harness() { top_.final(); }

    // One clock cycle: drive the slave and master outputs, settle, sample every handshake, rising edge.
    void tick() {
        drive_ddr();
        top_.ap_clk = 0;
        top_.eval();
        sample_ddr();
        sample_lite();
        if (top_.IRQ_PORT && started_ && !irq_seen_) {
            irq_seen_ = true;
            irq_cycle_ = cycle;
        }
        top_.ap_clk = 1;
        top_.eval();
        ++cycle;
    }

    std::string write(uint64_t addr, uint32_t value) {
        top_.s_axi_control_AWADDR = addr;
        top_.s_axi_control_WDATA = value;
        top_.s_axi_control_WSTRB = 0xF;
        bool aw = false, w = false;
        top_.s_axi_control_BREADY = 1;
        lite_ = LiteState{};
        uint64_t t0 = cycle;
        while (!lite_.b_done && cycle - t0 < lite_timeout_) {
            top_.s_axi_control_AWVALID = !aw;
            top_.s_axi_control_WVALID = !w;
            tick();
            aw = aw || lite_.aw_hs;
            w = w || lite_.w_hs;
        }
        if (lite_.b_done && addr == 0 && (value & 1)) start(lite_.b_cycle);
        top_.s_axi_control_AWVALID = top_.s_axi_control_WVALID = top_.s_axi_control_BREADY = 0;
        return lite_.b_done ? "w " + std::to_string(lite_.resp) : "timeout";
    }

    std::string read(uint64_t addr) {
        top_.s_axi_control_ARADDR = addr;
        top_.s_axi_control_RREADY = 1;
        bool ar = false;
        lite_ = LiteState{};
        uint64_t t0 = cycle;
        while (!lite_.r_done && cycle - t0 < lite_timeout_) {
            top_.s_axi_control_ARVALID = !ar;
            tick();
            ar = ar || lite_.ar_hs;
        }
        top_.s_axi_control_ARVALID = top_.s_axi_control_RREADY = 0;
        return lite_.r_done ? "r " + std::to_string(lite_.data) + " " + std::to_string(lite_.resp) : "timeout";
    }

    std::string advance(uint64_t n) {
        uint64_t t0 = cycle;
        while (cycle - t0 < n && !top_.IRQ_PORT) tick();
        return "a " + std::to_string(cycle - t0) + " " + std::to_string(top_.IRQ_PORT ? 1 : 0);
    }

    std::string stats() const {
        std::string last, stalls;
        for (char c : ddr_.last_report) last += (c == '"' || c == '\\') ? '\'' : c;
        for (const ReadPort& p : wmem_) stalls += (stalls.empty() ? "" : ", ") + std::to_string(p.r_stalls);
        char buf[1024];
        std::snprintf(buf, sizeof buf,
                      "{\"cycle\": %llu, \"start_cycle\": %lld, \"irq_cycle\": %lld, \"decerrs\": %llu, "
                      "\"protocol_errors\": %llu, \"bytes_read\": %llu, \"bytes_written\": %llu, "
                      "\"wmem_r_stalls\": [%s], \"last_report\": \"%s\"}",
                      ull(cycle), started_ ? static_cast<long long>(start_cycle_) : -1LL,
                      irq_seen_ ? static_cast<long long>(irq_cycle_) : -1LL, ull(ddr_.decerrs), ull(ddr_.protocol_errors),
                      ull(ddr_.bytes_read), ull(ddr_.bytes_written), stalls.c_str(), last.c_str());
        return buf;
    }

    uint64_t cycle = 0;

  private:
    struct LiteState {
        bool aw_hs = false, w_hs = false, b_done = false, ar_hs = false, r_done = false;
        unsigned resp = 0;
        uint32_t data = 0;
        uint64_t b_cycle = 0;
    };
    static unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

    // The weight masters m_axi_wmem0 .. m_axi_wmem<XF_WMEM - 1> (ports exist only up to the design's count).
    void add_weight_ports() {
        wmem_.reserve(XF_WMEM);
#if XF_WMEM > 11
#error "the shell has at most 11 weight masters"
#endif
#if XF_WMEM > 0
        wmem_.push_back(XF_WMEM_PORT(0));
#endif
#if XF_WMEM > 1
        wmem_.push_back(XF_WMEM_PORT(1));
#endif
#if XF_WMEM > 2
        wmem_.push_back(XF_WMEM_PORT(2));
#endif
#if XF_WMEM > 3
        wmem_.push_back(XF_WMEM_PORT(3));
#endif
#if XF_WMEM > 4
        wmem_.push_back(XF_WMEM_PORT(4));
#endif
#if XF_WMEM > 5
        wmem_.push_back(XF_WMEM_PORT(5));
#endif
#if XF_WMEM > 6
        wmem_.push_back(XF_WMEM_PORT(6));
#endif
#if XF_WMEM > 7
        wmem_.push_back(XF_WMEM_PORT(7));
#endif
#if XF_WMEM > 8
        wmem_.push_back(XF_WMEM_PORT(8));
#endif
#if XF_WMEM > 9
        wmem_.push_back(XF_WMEM_PORT(9));
#endif
#if XF_WMEM > 10
        wmem_.push_back(XF_WMEM_PORT(10));
#endif
    }
    bool chance(double p) { return p > 0 && uni_(rng_) < p; }

    // A run is measured from the START write's response to the first cycle the interrupt is seen high.
    void start(uint64_t at) {
        started_ = true;
        irq_seen_ = false;
        start_cycle_ = at;
    }

    void drive_ddr() {
        gmem_.arready = !chance(ar_stall_);
        top_.m_axi_gmem_AWREADY = !chance(aw_stall_);
        top_.m_axi_gmem_WREADY = !aw_.empty() && !chance(w_stall_);
        drive_read(gmem_);
        for (ReadPort& p : wmem_) {
            p.arready = !chance(ar_stall_);
            drive_read(p);
        }
        b_valid_ = !b_.empty() && b_.front().ready_at <= cycle;
        if (b_valid_) {
            top_.m_axi_gmem_BRESP = b_.front().resp;
            top_.m_axi_gmem_BID = b_.front().id;
        }
        top_.m_axi_gmem_BVALID = b_valid_;
    }

    // The next read beat of one master: after its burst's latency, with random gaps.
    void drive_read(ReadPort& p) {
        if (!p.r_valid && !p.ar.empty() && p.ar.front().ready_at <= cycle && !chance(r_gap_)) {
            const Burst& b = p.ar.front();
            uint32_t w[(BEAT + 3) / 4] = {};
            if (!b.decerr) ddr_.read_beat(b.addr + static_cast<uint64_t>(b.beat) * BEAT, w);
            set_port(p.rdata, w);
            p.rresp = b.decerr ? DECERR : 0;
            p.rlast = b.beat == b.len;
            p.rid = b.id;
            p.r_valid = true;
        }
        p.rvalid = p.r_valid;
    }

    // One master's AR and R handshakes: accept a burst (checked, with its latency), retire a beat.
    void sample_read(ReadPort& p) {
        const uint64_t araddr = static_cast<uint64_t>(p.araddr);
        p.ar_stable.check(ddr_, "AR", p.arvalid, p.arready, araddr ^ (uint64_t(p.arlen) << 56));
        if (p.arvalid && p.arready) {
            Burst b = accept("read", araddr, p.arlen, p.arid, p.arburst, p.arsize);
            std::uniform_int_distribution<uint64_t> lat(rd_lat_min_, rd_lat_max_);
            b.ready_at = cycle + lat(rng_);
            p.ar.push_back(b);
        }
        if (p.r_valid && !p.rready) ++p.r_stalls;
        if (p.r_valid && p.rready) {
            p.r_valid = false;
            Burst& b = p.ar.front();
            if (!b.decerr) ddr_.bytes_read += BEAT;
            if (b.beat++ == b.len) p.ar.pop_front();
        }
    }

    bool legal(const char* dir, unsigned burst, unsigned size, uint64_t addr) {
        bool ok = true;
        if (burst != 1) ddr_.report(false, std::string(dir) + " burst type " + std::to_string(burst) + " is not INCR"), ok = false;
        if ((1u << size) != BEAT)
            ddr_.report(false, std::string(dir) + " beat size " + std::to_string(1u << size) + " bytes is not the bus width"), ok = false;
        if (addr % BEAT) ddr_.report(false, std::string(dir) + " address 0x" + Ddr::hex(addr) + " is not beat-aligned"), ok = false;
        return ok;
    }

    Burst accept(const char* dir, uint64_t addr, unsigned len, unsigned id, unsigned burst, unsigned size) {
        Burst b{addr, len, id};
        b.decerr = !legal(dir, burst, size, addr) || ddr_.decerr(dir, addr, len);
        return b;
    }

    void sample_ddr() {
        sample_read(gmem_);
        for (std::size_t k = 0; k < wmem_.size(); ++k) {
            sample_read(wmem_[k]);
            if (*wmem_[k].awvalid || *wmem_[k].wvalid)
                ddr_.report(false, "m_axi_wmem" + std::to_string(k) + " writes (it only reads)");
        }
        const uint64_t awaddr = static_cast<uint64_t>(top_.m_axi_gmem_AWADDR);
        aw_stable_.check(ddr_, "AW", top_.m_axi_gmem_AWVALID, top_.m_axi_gmem_AWREADY, awaddr ^ (uint64_t(top_.m_axi_gmem_AWLEN) << 56));
        if (top_.m_axi_gmem_AWVALID && top_.m_axi_gmem_AWREADY)
            aw_.push_back(accept("write", awaddr, top_.m_axi_gmem_AWLEN, top_.m_axi_gmem_AWID, top_.m_axi_gmem_AWBURST, top_.m_axi_gmem_AWSIZE));
        if (top_.m_axi_gmem_WVALID && top_.m_axi_gmem_WREADY) write_beat();
        if (b_valid_ && top_.m_axi_gmem_BREADY) b_.pop_front();
    }

    void write_beat() {
        Burst& b = aw_.front();
        uint32_t w[(BEAT + 3) / 4] = {};
        get_port(top_.m_axi_gmem_WDATA, w);
        bool last = b.beat == b.len;
        if (bool(top_.m_axi_gmem_WLAST) != last)
            ddr_.report(false, "WLAST " + std::string(last ? "missing on" : "set before") + " the last beat of the write burst at 0x" + Ddr::hex(b.addr));
        if (!b.decerr) {
            ddr_.write_beat(b.addr + static_cast<uint64_t>(b.beat) * BEAT, w, static_cast<uint64_t>(top_.m_axi_gmem_WSTRB));
            ddr_.bytes_written += BEAT;
        }
        if (b.beat++ == b.len) {
            b_.push_back(Response{b.id, b.decerr ? DECERR : 0, cycle + b_lat_});
            aw_.pop_front();
        }
    }

    void sample_lite() {
        lite_.aw_hs = top_.s_axi_control_AWVALID && top_.s_axi_control_AWREADY;
        lite_.w_hs = top_.s_axi_control_WVALID && top_.s_axi_control_WREADY;
        lite_.ar_hs = top_.s_axi_control_ARVALID && top_.s_axi_control_ARREADY;
        if (top_.s_axi_control_BVALID && top_.s_axi_control_BREADY) {
            lite_.b_done = true;
            lite_.b_cycle = cycle;
            lite_.resp = top_.s_axi_control_BRESP;
        }
        if (top_.s_axi_control_RVALID && top_.s_axi_control_RREADY) {
            lite_.r_done = true;
            lite_.resp = top_.s_axi_control_RRESP;
            lite_.data = top_.s_axi_control_RDATA;
        }
    }

    VerilatedContext ctx_;
    Vdut top_{&ctx_};
    Ddr& ddr_;
    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> uni_{0.0, 1.0};
    uint64_t rd_lat_min_, rd_lat_max_, b_lat_;
    double r_gap_, ar_stall_, aw_stall_, w_stall_;
    uint64_t lite_timeout_;
    ReadPort gmem_ = XF_READ_PORT(m_axi_gmem);
    std::vector<ReadPort> wmem_;  // m_axi_wmem<k> at k
    std::deque<Burst> aw_;
    std::deque<Response> b_;
    bool b_valid_ = false;
    Stable aw_stable_;
    LiteState lite_{};
    bool started_ = false, irq_seen_ = false;
    uint64_t start_cycle_ = 0, irq_cycle_ = 0;
};

std::string command(Harness& h, const std::string& line) {
    char op = 0;
    unsigned long long a = 0, b = 0;
    int n = std::sscanf(line.c_str(), " %c %lli %lli", &op, reinterpret_cast<long long*>(&a), reinterpret_cast<long long*>(&b));
    if (op == 'w' && n == 3) return h.write(a, static_cast<uint32_t>(b));
    if (op == 'r' && n == 2) return h.read(a);
    if (op == 'a' && n == 2) return h.advance(a);
    if (op == 's') return h.stats();
    return "error: unknown command '" + line + "'";
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_args(argc, argv);
    Ddr ddr(o.get("mem", "ddr.bin"), o.num("base", 0));
    Harness h(o, ddr);
    char buf[256];
    while (std::fgets(buf, sizeof buf, stdin)) {
        std::string line(buf);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
        if (line.empty()) continue;
        if (line[0] == 'q') break;
        std::printf("%s\n", command(h, line).c_str());
        std::fflush(stdout);
    }
    std::printf("%s\n", h.stats().c_str());
    std::fflush(stdout);
    return 0;
}
