"""The `xnorflow` console command: one subcommand per stage; errors are one line and a non-zero exit."""
import argparse
import json
import sys
from pathlib import Path

from xnorflow.chatter import keep, say, terminal, to_log
from xnorflow.errors import FlowStopped, XnorflowError


def cmd_models(args: argparse.Namespace) -> None:
    """Print the registry: params, BOPs, FLOPs and OPs (= BOPs/64 + FLOPs) at each model's input size."""
    from rich.console import Console
    from rich.table import Table

    from xnorflow.training.models.catalog import REGISTRY, complexity, entry, registry_name

    names = [registry_name(n) for n in args.names] or list(REGISTRY)
    table = Table(title="xnorflow models (OPs = BOPs/64 + FLOPs)")
    for col in ("model", "input", "params", "BOPs", "FLOPs", "OPs", "what"):
        table.add_column(col, justify="left" if col in ("model", "what") else "right", no_wrap=col != "what")
    for name in names:
        row = entry(name)
        c = complexity(name, args.input_size)
        size = args.input_size or row.input_size
        table.add_row(name, f"{row.in_channels}x{size}x{size}", f"{c.params:,}", f"{c.bops:.3e}",
                      f"{c.flops:.3e}", f"{c.ops:.3e}", row.summary)
    Console(file=terminal(), width=160).print(table)


def cmd_train(args: argparse.Namespace) -> None:
    """Train a registry model with a recipe; resumes when --out already holds this run."""
    from xnorflow.training.trainer import run

    summary = run(_train_config(args))
    say(f"trained {summary['model']} on {summary['data']} ({summary['recipe']}: {', '.join(summary['steps'])}): "
        f"test accuracy {summary['test_acc']:.4f}; checkpoint {summary['checkpoint']}")


def _train_config(args: argparse.Namespace):
    from xnorflow.training.trainer import TrainConfig

    if args.shortcut_frac_bits is not None and not args.fixed_ranges:
        raise XnorflowError("--shortcut-frac-bits sets a fixed shortcut grid, but the ranges are chosen from the "
                            "data", "add --fixed-ranges to keep the grid you give, or drop --shortcut-frac-bits")
    return TrainConfig(model=args.model, data=args.data, out=args.out, recipe=args.recipe, epochs=args.epochs,
                       batch_size=args.batch_size, seed=args.seed, data_root=args.data_root, teacher=args.teacher,
                       estimator=args.estimator, attention_weight=args.attention_weight, until=args.until,
                       options=_options(args.option), shortcut_bits=args.shortcut_bits,
                       fixed_ranges=args.fixed_ranges, limit=args.limit, progress=not args.quiet,
                       device=args.device, workers=args.workers, amp=args.amp,
                       **({} if args.shortcut_frac_bits is None else {"shortcut_frac_bits": args.shortcut_frac_bits}))


def _options(pairs: list[str] | None) -> dict[str, bool] | None:
    """--option KEY=true|false pairs as a dict (builder options such as gating=false)."""
    if not pairs:
        return None
    options = {}
    for pair in pairs:
        key, _, val = pair.partition("=")
        if val.lower() not in ("true", "false"):
            raise XnorflowError(f"--option {pair} is not KEY=true|false", "e.g. --option gating=false")
        options[key] = val.lower() == "true"
    return options


def cmd_calibrate(args: argparse.Namespace) -> None:
    """Re-estimate a checkpoint's BatchNorm statistics with the hard-sign forward (before export snaps it)."""
    from xnorflow.training.bn_calibration import calibrate_checkpoint

    done = calibrate_checkpoint(args.checkpoint, args.data, args.data_root, args.batches, args.batch_size, args.out)
    say(f"calibrated {args.checkpoint}: BatchNorm statistics re-estimated on {done['images']} images of "
        f"{done['data']} ({done['batches']} batches) -> {args.out or args.checkpoint}")


def cmd_demo(args: argparse.Namespace) -> None:
    """The main job on the embedded default: train a tiny model on digits and report what happened."""
    from xnorflow.demo import demo

    demo(args.model, args.data, args.out, args.epochs, synth=args.synth)


TARGETS = ("hw-graph", "rtl", "sim", "synth", "bitfile")


def cmd_export(args: argparse.Namespace) -> None:
    """QONNX (Brevitas export, quant nodes visible) of a checkpoint or registry model."""
    from xnorflow.build_flows.pipeline import export_file

    say(f"exported {args.model} -> {export_file(args.model, args.out, _options(args.option))}")


def cmd_build(args: argparse.Namespace) -> None:
    """Build NAME|CKPT|file.onnx into one build directory, up to --target; every argument is checked first."""
    from xnorflow.build_dir import check_out, replacing
    from xnorflow.build_flows.pipeline import build_staged, resolve
    from xnorflow.hw.accelerator import build_target
    from xnorflow.hw.boards import board
    from xnorflow.hw.folding import check_folding_arg

    out, folding = check_out(args.out), check_folding_arg(args.folding)
    board(args.board)
    src = resolve(args.model, _options(args.option), args.seed)
    if src.kind == "name":
        named = "is a registry name" if src.ref == args.model else f"names the registry model {src.ref}"
        say(f"note: {args.model} {named}: building its untrained initial weights (seed {args.seed}); "
            "pass a trained model.pt to build that")
    stopped, result = None, {}
    with replacing(out) as tmp:
        rep = build_staged(src, tmp, out)
        say(f"hw-graph: {rep['hw_layers']} HW layers, weights {rep['weight_memory_bits']} bits, thresholds/tables "
            f"{rep['threshold_memory_bits']} bits, requantizers {rep['requantizer_memory_bits']} bits -> {out}")
        if args.target != "hw-graph":
            try:
                result = build_target(tmp, args.target, args.board, folding, args.frames, previous=out)
            except FlowStopped as stop:  # everything before the missing tool (or the overfull board) is kept
                stopped = stop
        keep(tmp / "build.log")
    _print_sections(json.loads((out / "report.json").read_text()) if stopped else result, out)
    if args.target == "bitfile" and (out / "rtl" / "design.json").is_file():
        try:
            _deploy(out, out / "deploy")
        except XnorflowError as err:  # the build's own stop (Vivado, timing) is the line that matters
            if stopped is None:
                raise
            say(f"warning: no deploy folder: {err}")
    if stopped:
        raise stopped


def _print_sections(result: dict, out: Path) -> None:
    """One line per report section of a hardware target."""
    rtl, sim, synth = result.get("rtl"), result.get("sim"), result.get("synth")
    if rtl:
        say(f"rtl: {rtl['layers']} layers, folding {rtl['folding']}, bound {rtl['analytical_bound']} cycles/frame "
            f"-> {out / rtl['top']}")
        if "fit" in rtl:
            _print_fit(rtl["fit"])
    if sim:
        say(f"sim: bit-exact on {sim['frames']} frames (also with gaps/stalls); {sim['cycles_per_frame']:.0f} "
            f"cycles/frame, ratio to bound {sim['ratio_to_bound']}, latency {sim['latency_cycles']} cycles, "
            f"{sim['sim_cycles_per_second']:,} simulated cycles/s")
    if synth and "use" in synth:
        use = ", ".join(f"{k.upper()} {u['used']:g}/{u['available']}" for k, u in synth["use"].items())
        say(f"synth: {use} on {synth['board']}; fits: {synth['fits']}")
    bitfile = result.get("bitfile")
    if bitfile and bitfile.get("status") == "published":
        use = ", ".join(f"{k.upper()} {u['used']:g}/{u['available']}" for k, u in bitfile["utilization"].items())
        say(f"bitfile: {use}; worst setup slack {bitfile['timing']['wns_ns']:.3f} ns at {bitfile['clock_mhz']:g} MHz "
            f"-> {out / bitfile['bitfile']} (+ .hwh)")


def _print_fit(fit: dict) -> None:
    """The fit on its board: frames/s, the limiting bound, modelled use, and a row per layer with weights."""
    use = ", ".join(f"{k.upper()} {fit['use'][k]:g}/{fit['budget'][k]:g}" for k in fit["use"])
    say(f"fit: {fit['frames_per_s']:,.1f} frames/s at {fit['clock_mhz']:g} MHz on {fit['board']}, bound {fit['bound']} "
        f"(compute {fit['compute_cycles']:,}, DDR {fit['ddr_cycles']:,.0f} cycles/frame); modelled {use}")
    say(f"  {'layer':<24} {'PE':>5} {'SIMD':>5} {'compute':>10} {'DDR':>10} {'memory':<12} {'weight bits':>12}")
    for name, row in fit["layers"].items():
        if "memory" in row:
            say(f"  {name:<24} {row.get('PE', 1):>5} {row.get('SIMD', 1):>5} {row['compute_cycles']:>10,} "
                f"{row['ddr_cycles']:>10,.0f} {row['memory']:<12} {row['weight_bits']:>12,}")


def cmd_cache(args: argparse.Namespace) -> None:
    """Show (or --clear) the cache of compiled Verilator models."""
    from xnorflow.hw import model_cache

    if args.clear:
        count, freed = model_cache.clear()
        say(f"cache: removed {count} compiled models ({freed / 2**20:.1f} MB) from {model_cache.cache_dir()}")
        return
    items = model_cache.entries()
    say(f"cache: {len(items)} compiled models, {sum(e.size for e in items) / 2**20:.1f} MB of a "
        f"{model_cache.max_bytes() / 2**20:.0f} MB cap (XNORFLOW_CACHE_MAX_MB) in {model_cache.cache_dir()}")


def cmd_sim(args: argparse.Namespace) -> None:
    """Re-simulate a build's RTL as it is, or one --layer of it, against FINN's python execution; writes nothing."""
    from xnorflow.hw.accelerator import simulate_build
    from xnorflow.hw.layer_sim import simulate_layer

    if args.layer is None:
        _print_sections({"sim": simulate_build(args.build_dir, args.frames)}, Path(args.build_dir))
        if args.shell:
            _print_shell(args.build_dir, args.frames)
        return
    r = simulate_layer(args.build_dir, args.layer, args.frames)
    say(f"sim: layer {r['layer']} ({r['op_type']} -> {r['module']}) bit-exact on {r['frames']} frames, "
        f"{r['cycles']} cycles at full rate, {r['cycles_with_gaps']} with input gaps and output stalls")


def _print_shell(build_dir: str, frames: int) -> None:
    """One line for the whole shell in Verilator through the driver."""
    from xnorflow.hw.accelerator import shell_report

    r = shell_report(build_dir, frames)
    say(f"shell: bit-exact on {r['frames']} frames from DDR to DDR (DDR model with random latency, gaps and "
        f"stalls); {r['cycles_per_frame']:.0f} cycles/frame by the shell's counter, {r['frames_per_s']:,.0f} "
        f"frames/s at {r['clock_mhz']:g} MHz, latency {r['latency_cycles']} cycles")


def cmd_deploy(args: argparse.Namespace) -> None:
    """Write the deploy folder of a build: runtime.json, the driver, the bitfile where there is one, notebooks."""
    _deploy(Path(args.build_dir), Path(args.out))


def _deploy(build_dir: Path, dest: Path) -> None:
    """Write the deploy folder and say where it is and what it holds."""
    from xnorflow.hw.deploy import write_deploy

    dest = write_deploy(build_dir, dest)
    has_bitfile = (dest / "xnorflow.bit").is_file()
    say(f"deploy: {dest} ({'bitfile, ' if has_bitfile else 'no bitfile yet, '}driver, runtime.json, notebooks): "
        "copy it to the board; `from xnorflow_driver import open` there")


def cmd_verify(args: argparse.Namespace) -> None:
    """Walk the numeric contract; one line per arrow; a broken arrow is a non-zero exit."""
    from xnorflow.build_flows.pipeline import verify_artifact
    from xnorflow.build_flows.verify import print_arrows

    arrows, frames = verify_artifact(args.artifact, args.frames, args.seed, _options(args.option))
    say(f"frames: {frames}")
    if not print_arrows(arrows):
        broken = ", ".join(a.name for a in arrows if not a.ok)
        raise XnorflowError(f"numeric contract broken: {broken}", "report the model and this build directory")


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--option", action="append", metavar="KEY=BOOL",
                   help="model builder option KEY=true|false for a registry NAME (e.g. gating=false, dpconv=false; "
                   "repeatable) (default: the builder's, every option on)")
    p.add_argument("--seed", type=int, default=0, help="torch seed of a registry NAME's initial weights "
                   "(and of random verify frames)")


def _recipe_steps() -> str:
    """Every recipe with its steps in order, for --recipe's help."""
    from xnorflow.training.recipes import RECIPES

    return "; ".join(f"{name}: {' -> '.join(s.name for s in steps)}" for name, steps in RECIPES.items())


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from xnorflow.training.datasets import DATASETS
    from xnorflow.training.recipes import ESTIMATORS, RECIPES

    p.add_argument("--model", required=True, metavar="NAME", help="registry name, see `xnorflow models`")
    p.add_argument("--data", required=True, choices=DATASETS, help="data set")
    p.add_argument("--data-root", help="folder of the data set (default: built in for digits, the Debian package "
                   "dataset-fashion-mnist's folder for fashion-mnist)")
    p.add_argument("--recipe", default="bireal", choices=RECIPES, help=f"training recipe, its steps: {_recipe_steps()}")
    p.add_argument("--epochs", type=positive, default=30, help="epochs per recipe step")
    p.add_argument("--batch-size", type=positive, default=64, help="images per batch")
    p.add_argument("--seed", type=int, default=0, help="torch seed of the initial weights and the batch order")
    p.add_argument("--teacher", help="real-valued teacher for the distributional loss: CKPT, torchscript:FILE, "
                   "or torchvision:ARCH:WEIGHTS (default: none, no distributional loss)")
    p.add_argument("--estimator", choices=ESTIMATORS, help="override the recipe's sign backward "
                   "(default: the recipe's)")
    p.add_argument("--until", metavar="STEP", help="stop after this recipe step, e.g. train only a real-valued "
                   "step 1 (default: run every step)")
    p.add_argument("--attention-weight", type=float, help="attention-matching weight (R2B Eq. 2) of every "
                   "step that has a teacher, 0 turns it off (default: the recipe's: real2bin steps 1-2)")
    p.add_argument("--option", action="append", metavar="KEY=BOOL", help="model builder option KEY=true|false, "
                   "e.g. gating=false, hyper=false (repeatable) (default: the builder's, every option on)")
    p.add_argument("--shortcut-bits", type=positive, default=8, help="fixed-point width of the real shortcuts")
    p.add_argument("--shortcut-frac-bits", type=int, help="fractional bits of the shortcut grid, with "
                   "--fixed-ranges (default: 4 there)")
    p.add_argument("--fixed-ranges", action="store_true", help="keep the fixed input grid (6 fractional bits: "
                   "[-2, 2)) and shortcut grid instead of choosing both from the data: the input's from the "
                   "normalisation's range, the shortcut's from a calibration pass at initialisation, at most "
                   "0.1%% of values saturating")
    p.add_argument("--limit", type=positive, help="use only the first N train/test images, for quick runs "
                   "(default: every image)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N; auto is cuda when torch sees a GPU, "
                   "and under torchrun cuda is each process's cuda:LOCAL_RANK (NCCL between them, gloo on CPU)")
    p.add_argument("--workers", type=non_negative, metavar="N", help="data-loader processes per rank (default: min(8, CPU "
                   "cores per rank) for imagefolder, 0 for the in-memory data sets)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast for the float parts (convs, linears; on "
                   "CPU too); the quantizers stay float32, test accuracy is measured in float32")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics.csv/json/png, model.pt")


def positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return _integer(text, 1, "a positive integer")


def non_negative(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _integer(text, 0, "an integer >= 0")


def _integer(text: str, least: int, what: str) -> int:
    """`text` as an integer >= `least`, else argparse's one-line error saying it is not `what`."""
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors as one line (`xnorflow: error: ...; see --help`) and exit code 2."""

    def error(self, message: str) -> None:
        """Print the problem in one line and exit 2."""
        self.exit(2, f"xnorflow: error: {self.prog.removeprefix('xnorflow ')}: {message}; see `{self.prog} --help`\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's help with every option's default (or `required`) named at the end of its line."""

    def _get_help_string(self, action: argparse.Action) -> str:
        """The help text plus `(required)`, `(default: off)` for a flag, or argparse's `(default: ...)`."""
        text = action.help or ""
        if action.required:
            return f"{text} (required)"
        if action.nargs == 0 and action.default is False:
            return f"{text} (default: off)"
        return text if "(default:" in text else super()._get_help_string(action)


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from xnorflow.hw.boards import BOARDS, DEFAULT
    from xnorflow.training.datasets import DATASETS
    from xnorflow.training.recipes import BN_BATCHES

    p = OneLineParser(prog="xnorflow", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    def add(name: str, func, text: str) -> argparse.ArgumentParser:
        """One subcommand, running `func`, whose help names every default."""
        command = sub.add_parser(name, help=text, description=text, formatter_class=HelpFormatter)
        command.set_defaults(func=func)
        command.add_argument("--verbose", action="store_true", help="show the libraries' own output (FINN, QONNX, "
                             "torch.onnx, Verilator) on the terminal instead of the log (a build's build.log)")
        return command

    models = add("models", cmd_models, "list the model registry with params/BOPs/FLOPs/OPs")
    models.add_argument("names", nargs="*", metavar="NAME", help="registry names to list (default: every model)")
    models.add_argument("--input-size", type=positive, help="count at this input size, on the built model "
                        "(default: each model's own input size, from the catalog)")
    _add_train_args(add("train", cmd_train, "train a model with a recipe (resumes after a kill)"))
    calibrate = add("calibrate", cmd_calibrate, "re-estimate a checkpoint's BatchNorm statistics with the hard-sign "
                    "forward (what export and the hardware run); `train` does it at the end of each binary step")
    calibrate.add_argument("checkpoint", metavar="CKPT", help="model.pt or checkpoint.pt of `xnorflow train`")
    calibrate.add_argument("--data", choices=DATASETS, help="data set whose training images to use "
                           "(default: the one the checkpoint was trained on)")
    calibrate.add_argument("--data-root", help="folder of the data set (default: as for `xnorflow train`)")
    calibrate.add_argument("--batches", type=positive, default=BN_BATCHES, help="training batches to average over")
    calibrate.add_argument("--batch-size", type=positive, default=64, help="images per batch")
    calibrate.add_argument("--out", help="checkpoint to write (default: overwrite CKPT)")
    demo = add("demo", cmd_demo, "the main job: train a tiny model on digits (the bireal recipe's 2 steps) and "
               "check it end to end")
    demo.add_argument("--model", default="tiny-bireal", metavar="NAME", help="registry name, see `xnorflow models`")
    demo.add_argument("--data", default="digits", choices=("digits", "fashion-mnist"), help="data set")
    demo.add_argument("--epochs", type=positive, default=15, help="epochs per recipe step (15 keeps the demo within "
                      "3 minutes on an idle 2-core machine)")
    demo.add_argument("--out", default="runs/demo", help="folder for the run (train/) and its build (build/)")
    demo.add_argument("--synth", action="store_true", help="also synthesise the whole design with Yosys "
                      "(a few CPU-minutes more)")
    export = add("export", cmd_export, "QONNX export of a checkpoint (or registry name)")
    export.add_argument("model", metavar="CKPT", help="model.pt of `xnorflow train`, or a registry name")
    export.add_argument("--out", required=True, help="the .onnx file to write")
    export.add_argument("--option", action="append", metavar="KEY=BOOL", help="builder option KEY=true|false for "
                        "a registry name (default: the builder's, every option on)")
    build = add("build", cmd_build, "export, streamline and convert to FINN HW layers [and beyond]")
    build.add_argument("--model", required=True, help="registry NAME or family name (reactnet, bireal, real2bin, "
                       "hyperbnn: the family's default model; untrained initial weights), CKPT (model.pt) or QONNX "
                       "file.onnx")
    build.add_argument("--target", choices=TARGETS, default="hw-graph",
                       help="last stage to run; each target runs the ones before it (in this order)")
    build.add_argument("--board", default=DEFAULT, help=f"target board, one of {', '.join(BOARDS)} (any case)")
    build.add_argument("--folding", help="a cycles/frame target (a positive integer, e.g. 4000: the smallest "
                       "folding that meets it) or a FINN folding-config JSON file (default: the folding and weight "
                       "placement with the most frames/s the board's LUTs, DSPs, block RAM and DDR bandwidth allow)")
    build.add_argument("--frames", type=positive, default=16, help="frames to simulate (sim target)")
    build.add_argument("--out", required=True, help="build directory (stages, dataflow_partition/, report.json)")
    _add_source_args(build)
    sim = add("sim", cmd_sim, "re-simulate a build directory's RTL in Verilator, bit-exact against FINN")
    sim.add_argument("build_dir", metavar="BUILD_DIR", help="a directory written by `xnorflow build`")
    sim.add_argument("--frames", type=positive, default=8, help="frames to simulate")
    sim.add_argument("--layer", help="simulate only this HW layer, a node name of rtl/folded.onnx "
                     "(default: the whole design)")
    sim.add_argument("--shell", action="store_true", help="also run the whole PYNQ shell (register file, DMAs, "
                     "DDR model) through the driver, bit-exact against FINN, with frames/s from its cycle counter")
    deploy = add("deploy", cmd_deploy, "write a build's deploy folder for a PYNQ board (driver, runtime.json, "
                 "bitfile and .hwh where Vivado made them, notebooks)")
    deploy.add_argument("build_dir", metavar="BUILD_DIR", help="a directory written by `xnorflow build --target rtl` "
                        "or later")
    deploy.add_argument("--out", required=True, help="the deploy folder to write (replaced only if xnorflow wrote it)")
    verify = add("verify", cmd_verify, "check the numeric contract arrow by arrow")
    verify.add_argument("artifact", metavar="ARTIFACT", help="build directory, or NAME|CKPT|file.onnx to build first")
    verify.add_argument("--frames", type=positive, default=32, help="frames to compare")
    _add_source_args(verify)
    cache = add("cache", cmd_cache, "show the cache of compiled Verilator models (size, cap), or clear it")
    cache.add_argument("--clear", action="store_true", help="remove every compiled model")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the subcommand; a usage error or an XnorflowError is one line on stderr and exit code 2."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a one-line usage error (2)
        return int(done.code or 0)
    try:
        with to_log(args.verbose):
            args.func(args)
    except XnorflowError as err:
        print(f"xnorflow: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
