"""A recording stand-in for Vivado's Tcl commands, in Python's own Tcl interpreter (tkinter.Tcl).

Each Vivado command the flow script may call is a Tcl command here that records its arguments and models
what Vivado checks: IP pins exist only when the CONFIG property enabling them is set (defaults as Vivado's),
a module reference's pins come from the module's ports in the added sources (Vivado's interface inference
by name prefix), interface nets join a master to a slave, `assign_bd_address` maps what is connected at
that moment, `validate_bd_design` refuses unconnected clock/reset inputs and enabled PS ports, runs need
the wrapper as top. Reports and the bitstream are written in the real formats (figures set by the stub).
Run as a program it is a fake `vivado -mode batch -source SCRIPT`: FAKE_VIVADO_WNS / FAKE_VIVADO_WHS set the
worst setup / hold slack,
FAKE_VIVADO_FAIL=synth_1 makes synthesis fail with a Vivado-style ERROR line.
"""
from __future__ import annotations

import os
import re
import sys
import tkinter
from dataclasses import dataclass, field
from pathlib import Path

VERSIONS = {"processing_system7": "5.5", "zynq_ultra_ps_e": "3.5", "smartconnect": "1.0", "proc_sys_reset": "5.0"}
# (pin, enabling CONFIG property or None, direction): "clk"/"rst"/"in"/"out" pins, "master"/"slave" interfaces
PS7 = [("FCLK_CLK0", "PCW_EN_CLK0_PORT", "out"), ("FCLK_RESET0_N", "PCW_EN_RST0_PORT", "out"),
       ("M_AXI_GP0", "PCW_USE_M_AXI_GP0", "master"), ("M_AXI_GP0_ACLK", "PCW_USE_M_AXI_GP0", "clk"),
       *[pin for n in range(4) for pin in ((f"S_AXI_HP{n}", f"PCW_USE_S_AXI_HP{n}", "slave"),
                                           (f"S_AXI_HP{n}_ACLK", f"PCW_USE_S_AXI_HP{n}", "clk"))],
       ("IRQ_F2P", "PCW_IRQ_F2P_INTR", "in"), ("DDR", None, "ext"), ("FIXED_IO", None, "ext")]
PS7_DEFAULTS = {"PCW_EN_CLK0_PORT": "1", "PCW_EN_RST0_PORT": "1", "PCW_USE_M_AXI_GP0": "1",
                "PCW_IRQ_F2P_INTR": "0", "PCW_USE_FABRIC_INTERRUPT": "0", "PCW_FPGA0_PERIPHERAL_FREQMHZ": "50",
                **{k: v for n in range(4) for k, v in ((f"PCW_USE_S_AXI_HP{n}", "0"),
                                                       (f"PCW_S_AXI_HP{n}_DATA_WIDTH", "64"))}}
ZUP = [("pl_clk0", "PSU__FPGA_PL0_ENABLE", "out"), ("pl_resetn0", "PSU__FPGA_PL0_ENABLE", "out"),
       ("M_AXI_HPM0_FPD", "PSU__USE__M_AXI_GP0", "master"), ("maxihpm0_fpd_aclk", "PSU__USE__M_AXI_GP0", "clk"),
       ("M_AXI_HPM1_FPD", "PSU__USE__M_AXI_GP1", "master"), ("maxihpm1_fpd_aclk", "PSU__USE__M_AXI_GP1", "clk"),
       ("M_AXI_HPM0_LPD", "PSU__USE__M_AXI_GP2", "master"), ("maxihpm0_lpd_aclk", "PSU__USE__M_AXI_GP2", "clk"),
       *[pin for n in range(4) for pin in ((f"S_AXI_HP{n}_FPD", f"PSU__USE__S_AXI_GP{n + 2}", "slave"),
                                           (f"saxihp{n}_fpd_aclk", f"PSU__USE__S_AXI_GP{n + 2}", "clk"))],
       ("pl_ps_irq0", "PSU__USE__IRQ0", "in")]
ZUP_DEFAULTS = {"PSU__FPGA_PL0_ENABLE": "1", "PSU__USE__M_AXI_GP0": "1", "PSU__USE__M_AXI_GP1": "1",
                "PSU__USE__M_AXI_GP2": "1", "PSU__USE__IRQ0": "0", "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ": "100",
                **{k: v for n in range(2, 6) for k, v in ((f"PSU__USE__S_AXI_GP{n}", "0"),
                                                          (f"PSU__SAXIGP{n}__DATA_WIDTH", "128"))}}
RESET_PINS = [("slowest_sync_clk", None, "clk"), ("ext_reset_in", None, "rst"), ("aux_reset_in", None, "opt"),
              ("dcm_locked", None, "opt"), ("mb_debug_sys_rst", None, "opt"), ("interconnect_aresetn", None, "out"),
              ("peripheral_aresetn", None, "out"), ("peripheral_reset", None, "out"), ("mb_reset", None, "out"),
              ("bus_struct_reset", None, "out")]
PS_FREQ = {"processing_system7": "PCW_FPGA0_PERIPHERAL_FREQMHZ",
           "zynq_ultra_ps_e": "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"}
PS_ADDRESS = {"processing_system7": {"M_AXI_GP0": 0x40000000}, "zynq_ultra_ps_e": {"M_AXI_HPM0_FPD": 0xA0000000}}


FAILED = "stub-command-failed"  # what a recording command returns for its Tcl wrapper to raise the error


class VivadoError(Exception):
    """What Vivado reports as an ERROR for a command."""


@dataclass
class Cell:
    """A block-design cell: an IP (vlnv) or a module reference (module), its CONFIG properties and pins."""

    name: str
    vlnv: str = ""
    module: str = ""
    config: dict[str, str] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)  # module reference: pin -> kind

    @property
    def ip(self) -> str:
        """The IP name of the VLNV (vendor:library:name:version)."""
        return self.vlnv.split(":")[2] if self.vlnv else ""

    def pins(self) -> dict[str, str]:
        """Pin or interface name -> kind, as the cell has them with its current configuration."""
        if self.module:
            return self.ports
        if self.ip in ("processing_system7", "zynq_ultra_ps_e"):
            table, defaults = (PS7, PS7_DEFAULTS) if self.ip == "processing_system7" else (ZUP, ZUP_DEFAULTS)
            conf = {**defaults, **self.config}
            return {p: k for p, prop, k in table if prop is None or conf.get(prop) == "1"}
        if self.ip == "smartconnect":
            si, mi = int(self.config.get("NUM_SI", "1")), int(self.config.get("NUM_MI", "2"))
            return {"aclk": "clk", "aresetn": "rst", **{f"S{i:02d}_AXI": "slave" for i in range(si)},
                    **{f"M{i:02d}_AXI": "master" for i in range(mi)}}
        if self.ip == "proc_sys_reset":
            return {p: k for p, _, k in RESET_PINS}
        raise VivadoError(f"[BD 5-390] IP definition not found for VLNV: {self.vlnv}")


def _module_text(sources: list[Path], module: str) -> tuple[str, str]:
    """(port list, body) of `module` in the added HDL sources."""
    for src in sources:
        text = src.read_text() if src.suffix in (".sv", ".v") else ""
        found = re.search(rf"\bmodule\s+{module}\b.*?\((.*?)\);(.*?)\bendmodule\b", text, re.S)
        if found:
            return found.group(1), found.group(2)
    raise VivadoError(f"[filemgmt 56-195] Cannot find module '{module}' in the design sources")


def port_names(sources: list[Path], module: str) -> list[str]:
    """The names of a module's ANSI-declared ports."""
    return re.findall(r"\b(?:input|output)\b[^,;]*?(\w+)\s*(?:,|$)", _module_text(sources, module)[0], re.M)


def check_instances(sources: list[Path], module: str) -> None:
    """Each instance in `module` connects exactly the ports its module has (what synthesis would refuse)."""
    for kind, name, conns in re.findall(r"^\s*(\w+)\s+(\w+)\s*\((.*?)\);", _module_text(sources, module)[1],
                                        re.S | re.M):
        named, ports = re.findall(r"\.(\w+)\s*\(", conns), port_names(sources, kind)
        if sorted(named) != sorted(ports):
            wrong = sorted(set(named) ^ set(ports))
            raise VivadoError(f"[Synth 8-448] instance '{name}' of module '{kind}' does not match its ports: {wrong}")


def module_ports(sources: list[Path], module: str) -> dict[str, str]:
    """A module's pins as Vivado infers them: ap_clk/ap_rst_n/interrupt, and one interface per AXI prefix."""
    check_instances(sources, module)
    pins = {}
    for n in port_names(sources, module):
        if n.startswith(("s_axi_", "m_axi_")):
            pins[n.rsplit("_", 1)[0]] = "slave" if n.startswith("s_") else "master"
        else:
            pins[n] = {"ap_clk": "clk", "ap_rst_n": "rst"}.get(n, "out" if n == "interrupt" else "in")
    return pins


class VivadoStub:
    """Records every command of a flow script and the block design it builds."""

    def __init__(self, root: Path, board_files: bool = True, wns: float = 1.234, fail_run: str = "",
                 whs: float = 0.021) -> None:
        self.root, self.board_files, self.wns, self.whs, self.fail_run = root, board_files, wns, whs, fail_run
        self.calls: list[list[str]] = []
        self.props: dict[str, dict[str, str]] = {}
        self.files: list[Path] = []
        self.cells: dict[str, Cell] = {}
        self.nets: list[set[str]] = []
        self.intf_nets: list[tuple[str, str]] = []
        self.address_map: dict[str, list[str]] = {}
        self.part = self.bd = self.top = ""
        self.validated = self.wrapped = False
        self.runs: dict[str, list[str]] = {}
        self.tcl = tkinter.Tcl()
        self.error = ""
        self.tcl.createcommand("stub_error", lambda: self.error)
        for name in dir(self):
            if name.startswith("cmd_"):
                self.tcl.createcommand(f"stub_{name[4:]}", self._recorded(getattr(self, name)))
                self.tcl.eval(f"proc {name[4:]} {{args}} {{\n    set r [stub_{name[4:]} {{*}}$args]\n"
                              f"    if {{$r eq {{{FAILED}}}}} {{ error [stub_error] }}\n    return $r\n}}")

    def _recorded(self, method):
        """Wrap a command: record its arguments; a VivadoError becomes the Tcl error Vivado would print."""
        def command(*args: str) -> str:
            self.calls.append([method.__name__[4:], *args])
            try:
                return method(*args)
            except VivadoError as err:
                self.error = f"ERROR: {err}"
                return FAILED
        return command

    def run(self, script: Path) -> None:
        """Source the script (in its directory, as `vivado -source` from there)."""
        before = os.getcwd()
        try:
            self.tcl.eval(f"cd {{{script.parent}}}; source {{{script.name}}}")
        finally:
            os.chdir(before)

    def called(self, name: str) -> list[list[str]]:
        """Every call of command `name`, with its arguments."""
        return [c[1:] for c in self.calls if c[0] == name]

    @staticmethod
    def _option(args: tuple[str, ...], flag: str) -> str:
        """The value after `flag` in a command's arguments."""
        return args[args.index(flag) + 1] if flag in args else ""

    @staticmethod
    def _plain(args: tuple[str, ...], flags_with_values: tuple[str, ...] = ()) -> list[str]:
        """Arguments that are neither flags nor the values of flags."""
        out, skip = [], False
        for a in args:
            if skip:
                skip = False
            elif a in flags_with_values:
                skip = True
            elif not a.startswith("-"):
                out.append(a)
        return out

    # -- project and files --------------------------------------------------------------------------------
    def cmd_create_project(self, *args: str) -> str:
        self.part = self._option(args, "-part")
        name, folder = self._plain(args, ("-part",))
        (Path.cwd() / folder).mkdir(parents=True, exist_ok=True)
        return name

    def cmd_get_board_parts(self, *args: str) -> str:
        pattern = self._plain(args)[0]
        name = pattern.strip("*:")
        return f"vendor.com:{name}:part0:1.0" if self.board_files else ""

    def cmd_current_project(self, *args: str) -> str:
        return "project"

    def cmd_current_fileset(self, *args: str) -> str:
        return "sources_1"

    def cmd_add_files(self, *args: str) -> str:
        for group in self._plain(args, ("-fileset",)):
            for f in self.tcl.splitlist(group):
                if not Path(f).is_file():
                    raise VivadoError(f"[filemgmt 56-12] File '{f}' does not exist")
                self.files.append(Path(f).resolve())
        return ""

    def cmd_get_files(self, *args: str) -> str:
        quiet = "-quiet" in args
        found = []
        for pattern in self.tcl.splitlist(" ".join(self._plain(args, ("-of_objects",)))):
            if pattern == f"{self.bd}.bd" and self.bd:
                found.append(pattern)
            elif pattern.endswith(".hwh") and "-all" in args and self._hwh().is_file():
                found.append(str(self._hwh()))
            elif any(f == Path(pattern).resolve() for f in self.files):
                found.append(pattern)
            elif not quiet:
                raise VivadoError(f"[Vivado 12-180] No files matched '{pattern}'")
        return " ".join(found)

    def _hwh(self) -> Path:
        return self.root / "project" / "xnorflow.gen" / "sources_1" / "bd" / self.bd / "hw_handoff" / f"{self.bd}.hwh"

    def cmd_update_compile_order(self, *args: str) -> str:
        return ""

    def cmd_set_property(self, *args: str) -> str:
        args = tuple(a for a in args if a not in ("-quiet",))
        if args[0] == "-dict":
            items = self.tcl.splitlist(args[1])
            pairs, objects = dict(zip(items[::2], items[1::2])), args[2:]
        else:
            pairs, objects = {args[0]: args[1]}, args[2:]
        for obj in objects:
            for key, value in pairs.items():
                self._set(obj, key, value)
        return ""

    def _set(self, obj: str, key: str, value: str) -> None:
        """One property of one object; CONFIG.* of a cell configures it, `top` of the fileset names the top."""
        if obj in self.cells and key.startswith("CONFIG."):
            self.cells[obj].config[key[len("CONFIG."):]] = value
        elif obj == "sources_1" and key == "top":
            self.top = value
        self.props.setdefault(obj, {})[key] = value

    def cmd_get_property(self, *args: str) -> str:
        key, obj = self._plain(args)
        if key == "VLNV":
            if not obj:
                raise VivadoError("[Common 17-161] Invalid option value '' specified for 'objects'")
            return obj
        if key == "PROGRESS":
            return "0%" if obj == self.fail_run else "100%"
        if key == "DIRECTORY":
            return str(self.root / "project" / "xnorflow.runs" / obj)
        return self.props.get(obj, {}).get(key, "")

    def cmd_get_ipdefs(self, *args: str) -> str:
        name = self._plain(args, ("-filter",))[0].split(":")[2]
        return f"xilinx.com:ip:{name}:{VERSIONS[name]}" if name in VERSIONS else ""

    # -- block design -------------------------------------------------------------------------------------
    def cmd_create_bd_design(self, name: str) -> str:
        self.bd = name
        return name

    def cmd_create_bd_cell(self, *args: str) -> str:
        if not self.bd:
            raise VivadoError("[BD 5-4] there is no current block design")
        (name,) = self._plain(args, ("-type", "-vlnv", "-reference"))
        if args[args.index("-type") + 1] == "module":
            module = self._option(args, "-reference")
            self.cells[name] = Cell(name, module=module, ports=module_ports(self.files, module))
        else:
            self.cells[name] = Cell(name, vlnv=self._option(args, "-vlnv"))
            self.cells[name].pins()
        return name

    def cmd_apply_bd_automation(self, *args: str) -> str:
        cell = self._cell(self._plain(args, ("-rule", "-config"))[0])
        config = dict(zip(*[iter(self.tcl.splitlist(self._option(args, "-config")))] * 2))
        self.props.setdefault(cell.name, {})["automation"] = str(config)
        return ""

    def _cell(self, name: str) -> Cell:
        if name.lstrip("/") not in self.cells:
            raise VivadoError(f"[BD 5-148] Cell '{name}' not found")
        return self.cells[name.lstrip("/")]

    def cmd_get_bd_cells(self, *args: str) -> str:
        return " ".join(self._cell(n).name for n in self._plain(args))

    def _pin(self, path: str, interface: bool) -> str:
        cell_name, _, pin = path.lstrip("/").partition("/")
        kinds = self._cell(cell_name).pins()
        if pin not in kinds or (kinds[pin] in ("master", "slave", "ext")) != interface:
            raise VivadoError(f"[BD 5-{'149' if interface else '150'}] {'Interface pin' if interface else 'Pin'} "
                              f"'/{path}' not found")
        return f"/{cell_name}/{pin}"

    def cmd_get_bd_pins(self, *args: str) -> str:
        return " ".join(self._pin(p, False) for p in self._plain(args))

    def cmd_get_bd_intf_pins(self, *args: str) -> str:
        return " ".join(self._pin(p, True) for p in self._plain(args))

    def kind(self, pin: str) -> str:
        cell, _, name = pin.lstrip("/").partition("/")
        return self.cells[cell].pins()[name]

    def cmd_connect_bd_net(self, *args: str) -> str:
        pins = set(self._plain(args))
        if len(pins) < 2 or not all(p.startswith("/") for p in pins):
            raise VivadoError(f"[BD 5-106] connect_bd_net needs two or more pins: {args}")
        joined = [n for n in self.nets if n & pins]
        for n in joined:
            self.nets.remove(n)
        self.nets.append(set().union(pins, *joined))
        return ""

    def cmd_connect_bd_intf_net(self, *args: str) -> str:
        a, b = self._plain(args, ("-boundary_type",))
        if {self.kind(a), self.kind(b)} != {"master", "slave"}:
            raise VivadoError(f"[BD 5-104] cannot connect {a} ({self.kind(a)}) to {b} ({self.kind(b)})")
        if any(p in pair for pair in self.intf_nets for p in (a, b)):
            raise VivadoError(f"[BD 5-107] an interface pin of {a} -> {b} is already connected")
        self.intf_nets.append((a, b) if self.kind(a) == "master" else (b, a))
        return ""

    def net_of(self, pin: str) -> set[str]:
        """The net holding `pin` (empty when it is not connected)."""
        return next((n for n in self.nets if pin in n), set())

    def slaves_reached(self, master: str) -> list[str]:
        """Slave interfaces of non-interconnect cells reached from `master` through SmartConnects."""
        found, frontier = [], [master]
        while frontier:
            m = frontier.pop()
            for src, dst in self.intf_nets:
                if src != m:
                    continue
                cell = self.cells[dst.split("/")[1]]
                if cell.ip == "smartconnect":
                    frontier += [f"/{cell.name}/{p}" for p, k in cell.pins().items() if k == "master"]
                else:
                    found.append(dst)
        return found

    def cmd_assign_bd_address(self, *args: str) -> str:
        self.address_map = {}
        for cell in self.cells.values():
            if cell.ip in ("smartconnect", "proc_sys_reset"):
                continue
            for pin, kind in cell.pins().items():
                if kind == "master":
                    self.address_map[f"/{cell.name}/{pin}"] = self.slaves_reached(f"/{cell.name}/{pin}")
        return ""

    def cmd_validate_bd_design(self, *args: str) -> str:
        problems = []
        for cell in self.cells.values():
            for pin, kind in cell.pins().items():
                path = f"/{cell.name}/{pin}"
                connected = any(path in pair for pair in self.intf_nets) or bool(self.net_of(path))
                if kind in ("clk", "rst", "master", "slave") and not connected:
                    problems.append(f"[BD 41-758] /{cell.name}/{pin} is not connected")
        for net in self.nets:
            if not any(self.kind(p) == "out" for p in net):
                problems.append(f"[BD 41-759] net {sorted(net)} has no driver")
        if problems:
            raise VivadoError("; ".join(problems))
        self.validated = True
        return ""

    def cmd_save_bd_design(self, *args: str) -> str:
        return ""

    def cmd_generate_target(self, *args: str) -> str:
        if not self.validated:
            raise VivadoError("[BD 41-1273] the block design was not validated")
        self._hwh().parent.mkdir(parents=True, exist_ok=True)
        cells = "".join(f'  <MODULE FULLNAME="/{c.name}" VLNV="{c.vlnv or c.module}"/>\n' for c in self.cells.values())
        self._hwh().write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<EDKSYSTEM>\n<MODULES>\n{cells}</MODULES>\n'
                               f'</EDKSYSTEM>\n')
        return ""

    def cmd_make_wrapper(self, *args: str) -> str:
        if not self.validated or "-top" not in args:
            raise VivadoError("[BD 41-1274] make_wrapper needs a validated design and -top")
        self.wrapped = True
        return ""

    # -- runs and reports ---------------------------------------------------------------------------------
    def cmd_launch_runs(self, *args: str) -> str:
        (run,) = self._plain(args, ("-jobs", "-to_step"))
        if not self.wrapped or self.top != f"{self.bd}_wrapper":
            raise VivadoError(f"[Vivado 12-1088] the top ({self.top or 'none'}) is not the block design's wrapper")
        if run == "impl_1" and "synth_1" not in self.runs:
            raise VivadoError("[Vivado 12-1280] impl_1 needs synth_1")
        self.runs[run] = list(args)
        if run == self.fail_run:
            print("ERROR: [Synth 8-439] module 'xnorflow_shell' not found", flush=True)
        elif run == "impl_1" and self._option(args, "-to_step") == "write_bitstream":
            bit = self.root / "project" / "xnorflow.runs" / "impl_1" / f"{self.bd}_wrapper.bit"
            bit.parent.mkdir(parents=True, exist_ok=True)
            bit.write_bytes(b"\x00\x09\x0f\xf0\x0f\xf0\x0f\xf0\x0f\xf0\x00\x00\x01a" + b"stub bitstream" * 64)
        return ""

    def cmd_wait_on_run(self, *args: str) -> str:
        return ""

    def cmd_get_runs(self, *args: str) -> str:
        return " ".join(self._plain(args))

    def cmd_open_run(self, *args: str) -> str:
        if "impl_1" not in self.runs:
            raise VivadoError("[Vivado 12-1151] run impl_1 has not run")
        return ""

    def cmd_report_utilization(self, *args: str) -> str:
        Path(self._option(args, "-file")).write_text(utilization_report(self.part))
        return ""

    def cmd_report_timing_summary(self, *args: str) -> str:
        Path(self._option(args, "-file")).write_text(timing_report(self.part, self.wns, self.whs))
        return ""

    def cmd_close_project(self, *args: str) -> str:
        return ""

    def ps(self) -> Cell:
        """The PS cell."""
        return next(c for c in self.cells.values() if c.ip in PS_FREQ)

    def clock_mhz(self) -> float:
        """The PL clock the PS is configured for."""
        ps = self.ps()
        return float(ps.config.get(PS_FREQ[ps.ip], (PS7_DEFAULTS | ZUP_DEFAULTS)[PS_FREQ[ps.ip]]))


HEADER = """Copyright 1986-2022 Xilinx, Inc. All Rights Reserved. Copyright 2022-2023 Advanced Micro Devices, Inc. All Rights Reserved.
---------------------------------------------------------------------------------------------------------------------------------------------
| Tool Version : Vivado v.2023.2 (lin64) Build 4029153 Fri Oct 13 20:13:54 MDT 2023
| Date         : Tue Dec  1 10:12:41 2026
| Host         : builder running 64-bit Ubuntu 22.04.4 LTS
| Command      : {command}
| Design       : xnorflow_bd_wrapper
| Device       : {part}
| Speed File   : -1
| Design State : Routed
---------------------------------------------------------------------------------------------------------------------------------------------
"""


def utilization_report(part: str) -> str:
    """report_utilization text in Vivado 2023.2's format (7-series: Slice LUTs; UltraScale+: CLB LUTs)."""
    seven = part.startswith("xc7")
    logic, mem, arith = ("Slice", "Memory", "DSP") if seven else ("CLB", "BLOCKRAM", "ARITHMETIC")
    row = "| {:<26} | {:>5} | {:>5} | {:>10} | {:>9} | {:>5} |\n"
    border = "+----------------------------+-------+-------+------------+-----------+-------+\n"
    head = border + row.format("Site Type", "Used", "Fixed", "Prohibited", "Available", "Util%") + border
    return (HEADER.format(command="report_utilization -file out/utilization.rpt", part=part)
            + "\nUtilization Design Information\n\nTable of Contents\n-----------------\n"
            + f"1. {logic} Logic\n1.1 Summary of Registers by Type\n3. {mem}\n4. {arith}\n\n"
            + f"1. {logic} Logic\n{'-' * (len(logic) + 9)}\n\n" + head
            + row.format(f"{logic} LUTs", 9876, 0, 0, 53200, 18.56)
            + row.format("  LUT as Logic", 9120, 0, 0, 53200, 17.14)
            + row.format("  LUT as Memory", 756, 0, 0, 17400, 4.34)
            + row.format(f"{logic} Registers", 12345, 0, 0, 106400, 11.60)
            + row.format("  Register as Flip Flop", 12345, 0, 0, 106400, 11.60)
            + row.format("F7 Muxes", 64, 0, 0, 26600, 0.24) + border
            + "\n\n1.1 Summary of Registers by Type\n--------------------------------\n\n"
            + "+-------+--------------+-------------+--------------+\n"
            + "| Total | Clock Enable | Synchronous | Asynchronous |\n"
            + "+-------+--------------+-------------+--------------+\n"
            + "| 0     |            _ |           - |            - |\n"
            + "| 12345 |          Yes |         Set |            - |\n"
            + "+-------+--------------+-------------+--------------+\n\n\n"
            + f"3. {mem}\n{'-' * (len(mem) + 3)}\n\n" + head
            + row.format("Block RAM Tile", 12.5, 0, 0, 140, 8.93)
            + row.format("  RAMB36/FIFO*", 10, 0, 0, 140, 7.14)
            + row.format("  RAMB18", 5, 0, 0, 280, 1.79) + border
            + "* Note: Each Block RAM Tile only has one FIFO logic available and therefore can accommodate only one "
            + "FIFO36E1 or one FIFO18E1.\n\n\n"
            + f"4. {arith}\n{'-' * (len(arith) + 3)}\n\n" + head
            + row.format("DSPs", 3, 0, 0, 220, 1.36)
            + row.format("  DSP48E1 only", 3, 0, 0, 0, 0) + border
            + "\n\n7. Primitives\n-------------\n\n+----------+-------+---------------------+\n"
            + "| Ref Name |  Used | Functional Category |\n+----------+-------+---------------------+\n"
            + "| FDRE     | 12001 |        Flop & Latch |\n| LUT6     |  4100 |                 LUT |\n"
            + "+----------+-------+---------------------+\n")


def timing_report(part: str, wns: float, whs: float = 0.021) -> str:
    """report_timing_summary text in Vivado 2023.2's format with worst setup slack `wns` and hold slack `whs` (ns)."""
    clock = "clk_fpga_0" if part.startswith("xc7") else "clk_pl_0"
    failing, tns = (3, wns * 2.4) if wns < 0 else (0, 0.0)
    verdict = "VIOLATED" if wns < 0 else "MET"
    summary = "Timing constraints are not met." if min(wns, whs) < 0 else "All user specified timing constraints are met."
    src = "xnorflow_bd_i/xnorflow_shell/inst/core/MVAU_hls_0/acc_reg[11]/C"
    dst = "xnorflow_bd_i/xnorflow_shell/inst/core/MVAU_hls_0/out_reg[3]/D"
    return (HEADER.format(command="report_timing_summary -max_paths 10 -file out/timing.rpt", part=part)
            + "\nTiming Summary Report\n\n"
            + "------------------------------------------------------------------------------------------------\n"
            + "| Timer Settings\n| --------------\n"
            + "------------------------------------------------------------------------------------------------\n\n"
            + "  Enable Multi Corner Analysis               :  Yes\n\n\n"
            + "------------------------------------------------------------------------------------------------\n"
            + "| Design Timing Summary\n| ---------------------\n"
            + "------------------------------------------------------------------------------------------------\n\n"
            + "    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  "
            + "THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  "
            + "TPWS Total Endpoints  \n"
            + "    -------      -------  ---------------------  -------------------      -------      -------  "
            + "---------------------  -------------------     --------     --------  ----------------------  "
            + "--------------------  \n"
            + f"{wns:11.3f}  {tns:11.3f}  {failing:21d}  {21873:19d}  "
            + f"{whs:11.3f}  {min(whs, 0.0):11.3f}  {int(whs < 0):21d}  "
            + f"{21873:19d}  {3.750:11.3f}  {0.0:11.3f}  {0:22d}  {10562:20d}  \n\n\n{summary}\n\n\n"
            + "------------------------------------------------------------------------------------------------\n"
            + "| Clock Summary\n| -------------\n"
            + "------------------------------------------------------------------------------------------------\n\n"
            + "Clock       Waveform(ns)       Period(ns)      Frequency(MHz)\n"
            + "-----       ------------       ----------      --------------\n"
            + f"{clock}  {{0.000 5.000}}      10.000          100.000         \n\n\n"
            + "------------------------------------------------------------------------------------------------\n"
            + "| Timing Details\n| --------------\n"
            + "------------------------------------------------------------------------------------------------\n\n\n"
            + "---------------------------------------------------------------------------------------------------\n"
            + f"From Clock:  {clock}\n  To Clock:  {clock}\n\n"
            + f"Setup :{failing:13d}  Failing Endpoints,  Worst Slack{wns:13.3f}ns,  Total Violation{tns:13.3f}ns\n"
            + "Hold  :            0  Failing Endpoints,  Worst Slack        0.021ns,  Total Violation        0.000ns\n"
            + "---------------------------------------------------------------------------------------------------\n\n\n"
            + "Max Delay Paths\n"
            + "--------------------------------------------------------------------------------------\n"
            + f"Slack ({verdict}) :        {wns:.3f}ns  (required time - arrival time)\n"
            + f"  Source:                 {src}\n"
            + f"                            (rising edge-triggered cell FDRE clocked by {clock}  "
            + "{rise@0.000ns fall@5.000ns period=10.000ns})\n"
            + f"  Destination:            {dst}\n"
            + f"                            (rising edge-triggered cell FDRE clocked by {clock}  "
            + "{rise@0.000ns fall@5.000ns period=10.000ns})\n"
            + f"  Path Group:             {clock}\n  Path Type:              Setup (Max at Slow Process Corner)\n"
            + f"  Requirement:            10.000ns  ({clock} rise@10.000ns - {clock} rise@0.000ns)\n\n"
            + f"Slack ({'MET'}) :        {abs(wns) + 0.4:.3f}ns  (required time - arrival time)\n"
            + "  Source:                 xnorflow_bd_i/xnorflow_shell/inst/regs/frames_reg[0]/C\n"
            + "  Destination:            xnorflow_bd_i/xnorflow_shell/inst/rd_dma/len_reg[7]/D\n\n\n"
            + "Min Delay Paths\n"
            + "--------------------------------------------------------------------------------------\n"
            + "Slack (MET) :        0.021ns  (arrival time - required time)\n"
            + "  Source:                 xnorflow_bd_i/mem_sc/inst/s00_entry_pipeline/m_payload_reg[1]/C\n"
            + "  Destination:            xnorflow_bd_i/mem_sc/inst/s00_nodes/m_sc_payld_reg[1]/D\n")


def main(argv: list[str]) -> int:
    """Fake `vivado -mode batch -source SCRIPT`: evaluate the script here, print what Vivado would, exit as it."""
    script = Path(argv[argv.index("-source") + 1]).resolve()
    print("****** Vivado v2023.2 (64-bit)\n  **** SW Build 4029153 on Fri Oct 13 20:13:54 MDT 2023", flush=True)
    stub = VivadoStub(Path.cwd(), wns=float(os.environ.get("FAKE_VIVADO_WNS", "1.234")),
                      whs=float(os.environ.get("FAKE_VIVADO_WHS", "0.021")),
                      fail_run=os.environ.get("FAKE_VIVADO_FAIL", ""))
    try:
        stub.run(script)
    except tkinter.TclError as err:
        print(f"{err}\n    while executing\n\"source {script.name}\"", flush=True)
        print("INFO: [Common 17-206] Exiting Vivado at Tue Dec  1 10:13:02 2026...", flush=True)
        return 1
    print("INFO: [Common 17-206] Exiting Vivado at Tue Dec  1 10:40:17 2026...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
