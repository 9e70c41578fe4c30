"""cocotb testbenches of the PYNQ shell's blocks and of a generated xnorflow_shell, run by test_shell_blocks.py.

Every AXI channel has a random pause generator (random ready/valid timing: latency and backpressure) and every
stream side random backpressure or gaps; the tests check exact data, the burst plan (split at MAX_BURST and at
4 KiB boundaries), the register map's semantics and the run counters to the cycle. Settings come from the
pytest side in $SHELL_TB (JSON).
"""
from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiRamRead, AxiRamWrite, AxiReadBus, AxiStreamBus,
                           AxiStreamSink, AxiStreamSource, AxiWriteBus)

CFG = json.loads(os.environ.get("SHELL_TB", "{}"))
PAGE = 4096
PERIOD_NS = 10
# register map (byte addresses)
CTRL, STATUS, ID_LO, ID_HI, FRAMES, IN_LO, IN_HI, OUT_LO, OUT_HI = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20
CYC_LO, CYC_HI, LATENCY, IN_STRIDE, OUT_STRIDE, W_PORTS, MAGIC, VERSION = (
    0x24, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x44, 0x48)
W_LO, W_HI, W_BYTES = 0x50, 0x54, 0x58   # weight port 0; port k's at + 0x10 k
DONE, BUSY, ERROR = 1, 2, 4


def pauses(seed: int, p: float) -> Iterator[bool]:
    """A pause generator: True (stall this cycle) with probability p."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < p


def burst_plan(addr: int, beats: int, nbytes: int, max_burst: int) -> list[tuple[int, int]]:
    """The (address, beats) bursts a DMA must issue: at most max_burst beats, never across 4 KiB."""
    plan = []
    while beats:
        n = min(beats, max_burst, (PAGE - addr % PAGE) // nbytes)
        plan.append((addr, n))
        addr, beats = addr + n * nbytes, beats - n
    return plan


class PoisonedRead(AxiRamRead):
    """A DDR model whose reads in `bad` (byte addresses) answer SLVERR."""

    bad: range = range(0)

    async def _read(self, address: int, length: int) -> bytes:
        if address in self.bad:
            raise ValueError("poisoned address")
        return await super()._read(address, length)


class PoisonedWrite(AxiRamWrite):
    """A DDR model whose writes in `bad` (byte addresses) answer SLVERR."""

    bad: range = range(0)

    async def _write(self, address: int, data: bytes) -> None:
        if address in self.bad:
            raise ValueError("poisoned address")
        await super()._write(address, data)


def stall_channels(channels: list, seed: int, p: float = 0.4) -> None:
    """Random ready/valid pauses on each of a DDR model's channels."""
    for i, ch in enumerate(channels):
        ch.set_pause_generator(pauses(seed + i, p))


CLOCK_START = [0]  # sim time (ns) of this test's first rising edge: tests of one run follow each other in time


def edge(dut) -> int:
    """The number of the latest rising clock edge of this test (read in that edge's time step)."""
    return (get_sim_time("ns") - CLOCK_START[0]) // PERIOD_NS


async def start_clock(dut, zero: list[str]) -> None:
    """Clock (a rising edge every PERIOD_NS from now), inputs in `zero` driven low, five cycles of reset."""
    CLOCK_START[0] = get_sim_time("ns")
    cocotb.start_soon(Clock(dut.ap_clk, PERIOD_NS, unit="ns").start())
    for name in zero:
        getattr(dut, name).value = 0
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 5)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)


def handshakes(dut, prefix: str, fields: list[str], log: list) -> None:
    """Record (edge, *fields) of every handshake of channel `prefix`: VALID && READY sampled at that edge."""
    async def watch() -> None:
        valid, ready = getattr(dut, f"{prefix}VALID"), getattr(dut, f"{prefix}READY")
        while True:
            await RisingEdge(dut.ap_clk)
            await ReadOnly()
            if valid.value == 1 and ready.value == 1:
                log.append((edge(dut) + 1, *(int(getattr(dut, prefix + f).value) for f in fields)))
    cocotb.start_soon(watch())


def pulses(dut, name: str, log: list) -> None:
    """Record the edges that sample signal `name` high."""
    async def watch() -> None:
        sig = getattr(dut, name)
        while True:
            await RisingEdge(dut.ap_clk)
            await ReadOnly()
            if sig.value == 1:
                log.append(edge(dut) + 1)
    cocotb.start_soon(watch())


async def pulse(dut, name: str) -> None:
    """Drive `name` high for one cycle."""
    getattr(dut, name).value = 1
    await RisingEdge(dut.ap_clk)
    getattr(dut, name).value = 0


async def wait_for(dut, name: str, limit: int = 200_000) -> None:
    """Wait until `name` is high at a clock edge; fail after `limit` cycles."""
    for _ in range(limit):
        await RisingEdge(dut.ap_clk)
        if getattr(dut, name).value == 1:
            return
    raise AssertionError(f"{name} did not rise within {limit} cycles")


# ---------------------------------------------------------------- register file

REG_INPUTS = ["reg_rd_done", "reg_wr_done", "reg_axi_error", "reg_first_out", "rd_start", "wr_start",
              "rd_m_axi_ARREADY", "rd_m_axi_RVALID", "rd_out_TREADY", "wr_in_TVALID", "wr_m_axi_AWREADY",
              "wr_m_axi_WREADY", "wr_m_axi_BVALID"]


def axil(dut) -> AxiLiteMaster:
    """An AXI4-Lite master on the s_axi_control ports, with random pauses on its channels."""
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, dut.ap_rst_n,
                           reset_active_level=False)
    for i, ch in enumerate((master.write_if.aw_channel, master.write_if.w_channel, master.write_if.b_channel,
                            master.read_if.ar_channel, master.read_if.r_channel)):
        ch.set_pause_generator(pauses(100 + i, 0.3))
    return master


@cocotb.test()
async def regfile_map(dut) -> None:
    """Constants, read-write registers (byte strobes too), read-only registers ignore writes, unmapped reads 0."""
    await start_clock(dut, REG_INPUTS)
    m = axil(dut)
    assert await m.read_dword(MAGIC) == 0x584E464C and await m.read_dword(VERSION) == 2
    build_id = int(CFG["build_id"], 16)
    assert await m.read_dword(ID_LO) == build_id & 0xFFFFFFFF and await m.read_dword(ID_HI) == build_id >> 32
    constants = (IN_STRIDE, OUT_STRIDE, W_PORTS, W_BYTES, W_BYTES + 0x10)
    assert [await m.read_dword(a) for a in constants] == [24, 40, 2, 40, 48]
    rw = {FRAMES: 0x12345678, IN_LO: 0x00401000, IN_HI: 0x7, OUT_LO: 0x00802000, OUT_HI: 0x9, W_LO: 0xCAFE0000,
          W_HI: 0x1, W_LO + 0x10: 0xBEEF1000, W_HI + 0x10: 0x3}
    for addr, value in rw.items():
        await m.write_dword(addr, value)
    for addr, value in rw.items():
        assert await m.read_dword(addr) == value, hex(addr)
    await m.write(FRAMES + 2, b"\xab")  # one byte lane: WSTRB 0b0100
    assert await m.read_dword(FRAMES) == 0x12AB5678
    assert int(dut.reg_frames.value) == 0x12AB5678
    assert int(dut.reg_in_addr.value) == 0x7_00401000 and int(dut.reg_out_addr.value) == 0x9_00802000
    assert int(dut.reg_weight_addr.value) == 0x3_BEEF1000 << 64 | 0x1_CAFE0000
    for addr in (STATUS, ID_LO, ID_HI, CYC_LO, CYC_HI, LATENCY, IN_STRIDE, OUT_STRIDE, W_PORTS, W_BYTES, W_BYTES + 0x10,
                 MAGIC, VERSION):
        before = await m.read_dword(addr)
        await m.write_dword(addr, 0xFFFFFFFF)
        assert await m.read_dword(addr) == before, f"read-only register {addr:#x} changed"
    for addr in (CTRL, 0x3C, 0x40, 0x4C, 0x5C, 0x70, 0x80, 0xFC):  # 0x70: a third weight port's, absent
        resp = await m.read(addr, 4)
        assert resp.data == bytes(4) and int(resp.resp) == 0, hex(addr)
    assert dut.reg_interrupt.value == 0


async def start_run(dut, m: AxiLiteMaster, starts: list[int]) -> int:
    """Write START; returns the edge at which the register file accepted it (`starts` logs reg_start)."""
    before = len(starts)
    await m.write_dword(CTRL, 1)
    assert len(starts) == before + 1, "START was not accepted"
    return starts[-1]


@cocotb.test()
async def regfile_run(dut) -> None:
    """START pulses once; BUSY; START ignored while busy; CYCLES / LATENCY exact; DONE + interrupt; ERROR sticky."""
    await start_clock(dut, REG_INPUTS)
    m = axil(dut)
    starts: list[int] = []
    pulses(dut, "reg_start", starts)
    t0 = await start_run(dut, m, starts)
    assert await m.read_dword(STATUS) == BUSY
    await m.write_dword(CTRL, 1)  # ignored: a run is in progress
    assert len(starts) == 1
    latency, total = 57, 131
    await drive_at(dut, t0 + latency, "reg_first_out")
    await drive_at(dut, t0 + latency + 3, "reg_first_out")  # later words do not move LATENCY
    await drive_at(dut, t0 + 90, "reg_axi_error")
    await drive_at(dut, t0 + 100, "reg_rd_done")
    assert await m.read_dword(STATUS) == BUSY | ERROR  # the write DMA is not done yet
    await drive_at(dut, t0 + total, "reg_wr_done")
    await ClockCycles(dut.ap_clk, 2)
    assert dut.reg_interrupt.value == 1
    assert await m.read_dword(STATUS) == DONE | ERROR
    assert await m.read_dword(CYC_LO) == total and await m.read_dword(CYC_HI) == 0
    assert await m.read_dword(LATENCY) == latency
    await start_run(dut, m, starts)  # a new run clears DONE and ERROR
    assert await m.read_dword(STATUS) == BUSY and dut.reg_interrupt.value == 0
    await ClockCycles(dut.ap_clk, 3)
    dut.reg_wr_done.value, dut.reg_rd_done.value = 1, 1
    await RisingEdge(dut.ap_clk)
    dut.reg_wr_done.value, dut.reg_rd_done.value = 0, 0
    assert await m.read_dword(STATUS) == DONE and await m.read_dword(LATENCY) == 0


async def drive_at(dut, target: int, name: str) -> None:
    """Drive `name` high so that exactly the clock edge numbered `target` samples it."""
    assert edge(dut) < target - 1, f"{name} at edge {target} is already past (edge {edge(dut)})"
    while edge(dut) < target - 1:
        await RisingEdge(dut.ap_clk)
    getattr(dut, name).value = 1
    await RisingEdge(dut.ap_clk)
    getattr(dut, name).value = 0


# ---------------------------------------------------------------- DMAs

def lanes(dut) -> int:
    """Bytes per AXI beat of the DMAs under test."""
    return len(dut.rd_m_axi_RDATA) // 8


async def read_run(dut, addr: int, beats: int, seed: int, poisoned: range = range(0), rounds: int = 1) -> dict:
    """One read-DMA run (`beats` from `addr`, `rounds` times over) against a DDR model of random bytes, with random
    timing everywhere; what it saw."""
    nbytes, max_burst = lanes(dut), CFG["max_burst"]
    ram = PoisonedRead(AxiReadBus.from_prefix(dut, "rd_m_axi"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False,
                       size=1 << 16)
    ram.bad = poisoned
    stall_channels([ram.ar_channel, ram.r_channel], seed)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "rd_out"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False)
    sink.set_pause_generator(pauses(seed + 7, 0.3))
    data = np.random.default_rng(seed).integers(0, 256, 1 << 16, dtype=np.uint8).tobytes()
    ram.write(0, data)
    ars, lasts, dones, errors = [], [], [], []
    handshakes(dut, "rd_m_axi_AR", ["ADDR", "LEN", "SIZE", "BURST"], ars)
    handshakes(dut, "rd_m_axi_R", ["LAST"], lasts)
    pulses(dut, "rd_done", dones)
    pulses(dut, "rd_error", errors)
    dut.rd_addr.value, dut.rd_beats.value, dut.rd_rounds.value = addr, beats, rounds
    await pulse(dut, "rd_start")
    got = bytearray()
    while len(got) < rounds * beats * nbytes:
        got.extend(await sink.read())
    await wait_for(dut, "rd_done")
    await ClockCycles(dut.ap_clk, 4)
    plan = burst_plan(addr, beats, nbytes, max_burst) * rounds
    assert [(a, n + 1) for _, a, n, _, _ in ars] == plan
    assert all(size == nbytes.bit_length() - 1 and burst == 1 for *_, size, burst in ars)
    assert bytes(got) == expected_read(data, addr, beats * nbytes, poisoned, nbytes) * rounds
    assert len(dones) == 1 and dones[0] > max(c for c, last in lasts if last)
    return {"ars": ars, "lasts": [c for c, last in lasts if last], "errors": errors, "plan": plan}


def expected_read(data: bytes, addr: int, length: int, poisoned: range, nbytes: int) -> bytes:
    """The bytes a read of `length` at `addr` returns: zero beats where the DDR model answered SLVERR."""
    out = bytearray(data[addr:addr + length])
    for beat in range(addr, addr + length, nbytes):
        if beat in poisoned:
            out[beat - addr:beat - addr + nbytes] = bytes(nbytes)
    return bytes(out)


def max_in_flight(ars: list, lasts: list[int]) -> int:
    """The most bursts whose address was accepted and whose last beat had not arrived, at any cycle."""
    events = sorted([(c, 1) for c, *_ in ars] + [(c, -1) for c in lasts])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


@cocotb.test()
async def dma_read(dut) -> None:
    """Random bytes read back exactly; bursts split at MAX_BURST and at 4 KiB; several in flight; one done."""
    nbytes, max_burst = lanes(dut), CFG["max_burst"]
    await start_clock(dut, REG_INPUTS)
    addr = 2 * PAGE - 5 * nbytes                 # five beats before a page boundary
    beats = 3 * max_burst + 7                    # not a whole number of bursts
    seen = await read_run(dut, addr, beats, seed=1)
    plan = seen["plan"]
    assert any(a % PAGE == 0 for a, _ in plan[1:]), "no burst split at a 4 KiB boundary"
    assert max(n for _, n in plan) == max_burst and plan[-1][1] < max_burst
    assert max_in_flight(seen["ars"], seen["lasts"]) >= 2, "bursts were not outstanding together"
    assert not seen["errors"]


@cocotb.test()
async def dma_read_rounds(dut) -> None:
    """Repeat mode (the weight stream): the same bytes `rounds` times, each round's bursts split as one read's."""
    nbytes, max_burst = lanes(dut), CFG["max_burst"]
    await start_clock(dut, REG_INPUTS)
    seen = await read_run(dut, 4 * PAGE - 2 * nbytes, max_burst + 3, seed=6, rounds=3)
    assert len(seen["plan"]) == 3 * 3 and not seen["errors"]   # per round: to the page end, MAX_BURST, the rest


@cocotb.test()
async def dma_read_error(dut) -> None:
    """A beat answered with SLVERR raises the error pulse once per bad beat; the run still ends."""
    nbytes = lanes(dut)
    await start_clock(dut, REG_INPUTS)
    addr = 3 * PAGE
    bad = range(addr + 4 * nbytes, addr + 6 * nbytes)
    seen = await read_run(dut, addr, 10, seed=2, poisoned=bad)
    assert len(seen["errors"]) == 2


async def write_run(dut, addr: int, beats: int, seed: int, poisoned: range = range(0)) -> dict:
    """One write-DMA run of random bytes into a DDR model, with random timing everywhere; what it saw."""
    nbytes, max_burst = lanes(dut), CFG["max_burst"]
    ram = PoisonedWrite(AxiWriteBus.from_prefix(dut, "wr_m_axi"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False,
                        size=1 << 16)
    ram.bad = poisoned
    stall_channels([ram.aw_channel, ram.w_channel, ram.b_channel], seed, p=0.2)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "wr_in"), dut.ap_clk, dut.ap_rst_n,
                             reset_active_level=False)
    source.set_pause_generator(pauses(seed + 7, 0.6))  # slower than DDR: a burst issued early would starve W
    data = np.random.default_rng(seed).integers(0, 256, beats * nbytes, dtype=np.uint8).tobytes()
    aws, ws, bs, dones, errors = [], [], [], [], []
    handshakes(dut, "wr_m_axi_AW", ["ADDR", "LEN", "SIZE", "BURST"], aws)
    handshakes(dut, "wr_m_axi_B", ["RESP"], bs)
    pulses(dut, "wr_done", dones)
    pulses(dut, "wr_error", errors)
    w_gaps = watch_w_gaps(dut, ws)
    dut.wr_addr.value, dut.wr_beats.value = addr, beats
    await pulse(dut, "wr_start")
    await source.write(data)
    await wait_for(dut, "wr_done")
    await ClockCycles(dut.ap_clk, 4)
    plan = burst_plan(addr, beats, nbytes, max_burst)
    assert [(a, n + 1) for _, a, n, _, _ in aws] == plan
    assert all(size == nbytes.bit_length() - 1 and burst == 1 for *_, size, burst in aws)
    assert w_gaps == [], f"WVALID dropped inside bursts at cycles {w_gaps[:5]}"
    assert len(bs) == len(plan) and len(dones) == 1 and dones[0] > bs[-1][0]
    if not poisoned:
        mem = ram.read(0, 1 << 16)
        assert mem[addr:addr + len(data)] == data
        assert mem[:addr] == bytes(addr) and mem[addr + len(data):] == bytes((1 << 16) - addr - len(data))
    return {"bs": bs, "errors": errors, "plan": plan}


def watch_w_gaps(dut, log: list) -> list[int]:
    """Cycles in which WVALID was low between a burst's first beat and its WLAST (the DMA sends whole bursts)."""
    gaps: list[int] = []

    async def watch() -> None:
        inside, cycle = False, 0
        while True:
            await RisingEdge(dut.ap_clk)
            await ReadOnly()
            cycle += 1
            valid, ready = dut.wr_m_axi_WVALID.value == 1, dut.wr_m_axi_WREADY.value == 1
            if inside and not valid:
                gaps.append(cycle)
            if valid and ready:
                inside = dut.wr_m_axi_WLAST.value != 1
            elif valid:
                inside = True
    cocotb.start_soon(watch())
    return gaps


@cocotb.test()
async def dma_write(dut) -> None:
    """Random bytes land exactly; bursts split at MAX_BURST and 4 KiB; whole bursts on W; done after the last B."""
    nbytes, max_burst = lanes(dut), CFG["max_burst"]
    await start_clock(dut, REG_INPUTS)
    addr = PAGE - 3 * nbytes
    seen = await write_run(dut, addr, 3 * max_burst + 5, seed=3)
    plan = seen["plan"]
    assert any(a % PAGE == 0 for a, _ in plan[1:]) and max(n for _, n in plan) == max_burst
    assert not seen["errors"]


@cocotb.test()
async def dma_write_error(dut) -> None:
    """A write answered with SLVERR raises the error pulse; the run still ends after its last response."""
    nbytes = lanes(dut)
    await start_clock(dut, REG_INPUTS)
    addr = 5 * PAGE
    seen = await write_run(dut, addr, 20, seed=4, poisoned=range(addr + 2 * nbytes, addr + 3 * nbytes))
    assert len(seen["errors"]) == 1 and sum(1 for _, resp in seen["bs"] if resp == 2) == 1


# ---------------------------------------------------------------- generated shell around a real core

@cocotb.test()
async def shell_run(dut) -> None:
    """Frames from DDR through the core back to DDR, bit-exact with FINN; counters; a write error sets ERROR."""
    case = np.load(Path(CFG["case"]))
    await start_clock(dut, ["s_axi_control_AWVALID", "s_axi_control_WVALID", "s_axi_control_ARVALID",
                            "s_axi_control_BREADY", "s_axi_control_RREADY"])
    read_ram = PoisonedRead(AxiReadBus.from_prefix(dut, "m_axi_gmem"), dut.ap_clk, dut.ap_rst_n,
                            reset_active_level=False, size=1 << 20)
    write_ram = PoisonedWrite(AxiWriteBus.from_prefix(dut, "m_axi_gmem"), dut.ap_clk, dut.ap_rst_n,
                              reset_active_level=False, mem=read_ram.mem, size=1 << 20)
    stall_channels([read_ram.ar_channel, read_ram.r_channel, write_ram.aw_channel, write_ram.w_channel,
                    write_ram.b_channel], seed=5, p=0.3)
    m = axil(dut)
    assert await m.read_dword(MAGIC) == 0x584E464C
    build_id = int(CFG["build_id"], 16)
    assert (await m.read_dword(ID_HI)) << 32 | await m.read_dword(ID_LO) == build_id
    assert (await m.read_dword(IN_STRIDE), await m.read_dword(OUT_STRIDE)) == (CFG["in_stride"], CFG["out_stride"])
    frames, in_addr, out_addr = int(case["frames"]), 0x10000, 0x7F000 - 16  # the output crosses a 4 KiB boundary
    read_ram.write(in_addr, case["ddr_in"].tobytes())
    write_ram.write(out_addr, b"\xee" * (frames * CFG["out_stride"] + 64))
    for reg, value in ((FRAMES, frames), (IN_LO, in_addr), (IN_HI, 0), (OUT_LO, out_addr), (OUT_HI, 0)):
        await m.write_dword(reg, value)
    cycles = await timed_run(dut, m)
    out = read_ram.read(out_addr, frames * CFG["out_stride"] + 64)
    assert out[:frames * CFG["out_stride"]] == case["ddr_out"].tobytes(), "output buffer differs from FINN"
    assert out[frames * CFG["out_stride"]:] == b"\xee" * 64, "the write DMA wrote past the buffer"
    assert await m.read_dword(STATUS) == DONE and dut.interrupt.value == 1
    assert await m.read_dword(CYC_LO) == cycles["done"] and await m.read_dword(CYC_HI) == 0
    assert await m.read_dword(LATENCY) == cycles["first_out"]
    write_ram.bad = range(out_addr, out_addr + 16)
    await timed_run(dut, m)
    assert await m.read_dword(STATUS) == DONE | ERROR


@cocotb.test()
async def shell_run_weights(dut) -> None:
    """A core whose layer streams its weights: m_axi_wmem0 reads the weight frame at WEIGHT_ADDR once per frame (a
    page boundary inside it), with random timing; DDR out bit-exact with FINN in two runs; WEIGHT_BYTES; no
    weight byte read beyond the frames' worth."""
    case = np.load(Path(CFG["case"]))
    await start_clock(dut, ["s_axi_control_AWVALID", "s_axi_control_WVALID", "s_axi_control_ARVALID",
                            "s_axi_control_BREADY", "s_axi_control_RREADY"])
    ram = AxiRamRead(AxiReadBus.from_prefix(dut, "m_axi_gmem"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False,
                     size=1 << 20)
    out_ram = AxiRamWrite(AxiWriteBus.from_prefix(dut, "m_axi_gmem"), dut.ap_clk, dut.ap_rst_n,
                          reset_active_level=False, mem=ram.mem, size=1 << 20)
    w_ram = AxiRamRead(AxiReadBus.from_prefix(dut, "m_axi_wmem0"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False,
                       size=1 << 16)
    stall_channels([ram.ar_channel, ram.r_channel, out_ram.aw_channel, out_ram.w_channel, out_ram.b_channel,
                    w_ram.ar_channel, w_ram.r_channel], seed=8, p=0.3)
    w_bursts: list = []
    handshakes(dut, "m_axi_wmem0_AR", ["ADDR", "LEN"], w_bursts)
    m = axil(dut)
    assert await m.read_dword(W_BYTES) == CFG["weight_bytes"]
    frames, in_addr, out_addr, w_addr = int(case["frames"]), 0x10000, 0x20000, 2 * PAGE - 16
    out_bytes = frames * CFG["out_stride"]
    ram.write(in_addr, case["ddr_in"].tobytes())
    w_ram.write(w_addr, case["ddr_weights"].tobytes())
    for reg, value in ((FRAMES, frames), (IN_LO, in_addr), (IN_HI, 0), (OUT_LO, out_addr), (OUT_HI, 0),
                       (W_LO, w_addr), (W_HI, 0)):
        await m.write_dword(reg, value)
    for run in range(2):  # the second run starts the weight DMA and the trim of its padding afresh
        ram.write(out_addr, b"\xee" * out_bytes)
        await timed_run(dut, m)
        assert ram.read(out_addr, out_bytes) == case["ddr_out"].tobytes(), f"run {run}: output differs from FINN"
        assert await m.read_dword(STATUS) == DONE
    beats = sum(n + 1 for _, _, n in w_bursts)
    assert beats * len(dut.m_axi_wmem0_RDATA) // 8 == 2 * frames * CFG["weight_bytes"]
    assert {a for _, a, _ in w_bursts} == {w_addr, 2 * PAGE}, "weight reads outside the weight frame"


async def timed_run(dut, m: AxiLiteMaster) -> dict:
    """START a run, wait for the interrupt; the edges from START's acceptance to DONE and to the first output word
    leaving the core (what CYCLES and LATENCY must read)."""
    seen: dict[str, int] = {}

    async def watch() -> None:
        while "done" not in seen:
            await RisingEdge(dut.ap_clk)
            await ReadOnly()
            if "start" not in seen:
                if dut.u_regs.start.value == 1:
                    seen["start"] = edge(dut) + 1
                continue
            if "first_out" not in seen and dut.u_core.out0_V_TVALID.value == 1 \
                    and dut.u_core.out0_V_TREADY.value == 1:
                seen["first_out"] = edge(dut) + 1 - seen["start"]
            if dut.interrupt.value == 1:
                seen["done"] = edge(dut) - seen["start"]
    task = cocotb.start_soon(watch())
    await m.write_dword(CTRL, 1)
    await task
    return seen
