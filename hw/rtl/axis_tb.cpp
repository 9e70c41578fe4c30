// axis_tb.cpp: generic cycle-accurate AXI-stream testbench for a Verilated design (class Vdut).
// The streams come from a generated header, tb_ports.h, that defines
//   XF_INPUTS(X)  as X(name, bits) for every input stream  (ports name_TDATA/TVALID/TREADY)
//   XF_OUTPUTS(X) as X(name, bits) for every output stream
// Input words are read from in_<name>.bin and output words written to out_<name>.bin, each
// word ceil(bits/8) little-endian bytes. Arguments (key=value): seed, in_gap (probability an
// idle input stays invalid in a cycle), out_stall (probability an output drops TREADY),
// timeout (cycles without any handshake before declaring deadlock), expect_<name> (output
// words to collect). Prints one JSON object with the cycle counts, or the stalled streams. A design
// that calls $finish (its deadlock watchdog, which prints its own line on stderr) ends the run.
#include "Vdut.h"
#include "verilated.h"
#include "tb_ports.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using Word = std::vector<uint32_t>;

template <typename T> void set_port(T& port, const uint32_t* w) { port = static_cast<T>(w[0]); }
void set_port(QData& port, const uint32_t* w) { port = w[0] | (static_cast<QData>(w[1]) << 32); }
template <std::size_t N> void set_port(VlWide<N>& port, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <typename T> void get_port(const T& port, uint32_t* w) { w[0] = port; }
void get_port(const QData& port, uint32_t* w) {
    w[0] = static_cast<uint32_t>(port);
    w[1] = static_cast<uint32_t>(port >> 32);
}
template <std::size_t N> void get_port(const VlWide<N>& port, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}

struct InStream {
    std::string name;
    int bits;
    std::function<void(const uint32_t*)> set_data;
    std::function<void(bool)> set_valid;
    std::function<bool()> ready;
    std::vector<Word> words;
    std::size_t next = 0;
    bool presenting = false;
};

struct OutStream {
    std::string name;
    int bits;
    std::function<void(uint32_t*)> get_data;
    std::function<bool()> valid;
    std::function<void(bool)> set_ready;
    std::vector<Word> words;
    std::size_t expect = 0;
    bool ready = false;
};

std::size_t word_bytes(int bits) { return static_cast<std::size_t>((bits + 7) / 8); }
std::size_t word_u32s(int bits) { return static_cast<std::size_t>((bits + 31) / 32); }

std::vector<Word> read_words(const std::string& path, int bits) {
    std::vector<Word> words;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return words;
    std::vector<uint8_t> buf(word_bytes(bits));
    while (std::fread(buf.data(), 1, buf.size(), f) == buf.size()) {
        Word w(word_u32s(bits), 0);
        std::memcpy(w.data(), buf.data(), buf.size());
        words.push_back(w);
    }
    std::fclose(f);
    return words;
}

void write_words(const std::string& path, const OutStream& s) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return;
    for (const Word& w : s.words) std::fwrite(w.data(), 1, word_bytes(s.bits), f);
    std::fclose(f);
}

std::map<std::string, std::string> parse_args(int argc, char** argv) {
    std::map<std::string, std::string> args;
    for (int i = 1; i < argc; ++i) {
        const char* eq = std::strchr(argv[i], '=');
        if (eq) args[std::string(argv[i], static_cast<std::size_t>(eq - argv[i]))] = std::string(eq + 1);
    }
    return args;
}

std::string stall_report(const std::vector<InStream>& ins, const std::vector<OutStream>& outs) {
    std::string r;
    for (const InStream& s : ins) {
        if (s.next < s.words.size())
            r += "input " + s.name + " not accepted (word " + std::to_string(s.next) + " of " +
                 std::to_string(s.words.size()) + " held valid, TREADY low); ";
    }
    for (const OutStream& s : outs) {
        if (s.words.size() < s.expect)
            r += "output " + s.name + " not produced (" + std::to_string(s.words.size()) + " of " +
                 std::to_string(s.expect) + " words); ";
    }
    return r.empty() ? r : r.substr(0, r.size() - 2);
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> args = parse_args(argc, argv);
    auto arg = [&](const std::string& k, const std::string& d) { return args.count(k) ? args[k] : d; };
    std::mt19937_64 rng(std::stoull(arg("seed", "1")));
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    const double in_gap = std::stod(arg("in_gap", "0"));
    const double out_stall = std::stod(arg("out_stall", "0"));
    const uint64_t timeout = std::stoull(arg("timeout", "10000"));

    VerilatedContext ctx;
    Vdut top{&ctx};
    std::vector<InStream> ins;
    std::vector<OutStream> outs;
#define XF_IN(NAME, BITS)                                                               \
    ins.push_back(InStream{#NAME, BITS,                                                  \
                           [&](const uint32_t* w) { set_port(top.NAME##_TDATA, w); },    \
                           [&](bool v) { top.NAME##_TVALID = v; },                       \
                           [&]() { return top.NAME##_TREADY != 0; }});
#define XF_OUT(NAME, BITS)                                                              \
    outs.push_back(OutStream{#NAME, BITS,                                                \
                             [&](uint32_t* w) { get_port(top.NAME##_TDATA, w); },        \
                             [&]() { return top.NAME##_TVALID != 0; },                   \
                             [&](bool r) { top.NAME##_TREADY = r; }});
    XF_INPUTS(XF_IN)
    XF_OUTPUTS(XF_OUT)
    for (InStream& s : ins) s.words = read_words("in_" + s.name + ".bin", s.bits);
    for (OutStream& s : outs) s.expect = std::stoull(arg("expect_" + s.name, "0"));

    top.ap_rst_n = 0;
    for (int i = 0; i < 4; ++i) {
        top.ap_clk = 0;
        top.eval();
        top.ap_clk = 1;
        top.eval();
    }
    top.ap_rst_n = 1;

    auto t0 = std::chrono::steady_clock::now();
    uint64_t cycle = 0, last_progress = 0, first_out = 0, last_out = 0;
    bool any_out = false, deadlock = false;
    auto done = [&]() {
        for (const OutStream& s : outs)
            if (s.words.size() < s.expect) return false;
        return true;
    };
    while (!done() && !ctx.gotFinish()) {
        for (InStream& s : ins) {
            if (!s.presenting && s.next < s.words.size()) s.presenting = in_gap == 0 || uni(rng) >= in_gap;
            if (s.presenting) s.set_data(s.words[s.next].data());
            s.set_valid(s.presenting);
        }
        for (OutStream& s : outs) {
            s.ready = out_stall == 0 || uni(rng) >= out_stall;
            s.set_ready(s.ready);
        }
        top.ap_clk = 0;
        top.eval();
        bool progress = false;
        for (InStream& s : ins) {
            if (s.presenting && s.ready()) {
                ++s.next;
                s.presenting = false;
                progress = true;
            }
        }
        for (OutStream& s : outs) {
            if (s.ready && s.valid()) {
                Word w(word_u32s(s.bits), 0);
                s.get_data(w.data());
                s.words.push_back(w);
                if (!any_out) first_out = cycle;
                any_out = true;
                last_out = cycle;
                progress = true;
            }
        }
        top.ap_clk = 1;
        top.eval();
        ++cycle;
        if (progress) last_progress = cycle;
        if (cycle - last_progress > timeout) {
            deadlock = true;
            break;
        }
    }
    deadlock = !done();  // a timeout, or the design's own watchdog called $finish
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    top.final();
    for (const OutStream& s : outs) write_words("out_" + s.name + ".bin", s);

    std::printf("{\"cycles\": %llu, \"first_out\": %llu, \"last_out\": %llu, \"wall_s\": %.6f",
                static_cast<unsigned long long>(cycle), static_cast<unsigned long long>(first_out),
                static_cast<unsigned long long>(last_out), wall);
    std::printf(", \"inputs_left\": {");
    for (std::size_t i = 0; i < ins.size(); ++i)
        std::printf("%s\"%s\": %zu", i ? ", " : "", ins[i].name.c_str(), ins[i].words.size() - ins[i].next);
    std::printf("}, \"deadlock\": ");
    if (deadlock)
        std::printf("\"no handshake for %llu cycles at cycle %llu: %s\"}\n",
                    static_cast<unsigned long long>(timeout), static_cast<unsigned long long>(cycle),
                    stall_report(ins, outs).c_str());
    else
        std::printf("null}\n");
    return deadlock ? 3 : 0;
}
