"""``minimlp export``: write a saved model in another format (ONNX), to run without minimlp."""
from __future__ import annotations
from .. import io
from ..cli import UsageError
from ..config import check_output_file, ConfigError
from ..interop import export_onnx

HELP = "write a saved model (.npz) as an ONNX file that onnxruntime runs without minimlp"

EPILOG = """\
example:
  minimlp export --model minimlp-out/spirals/model.npz --onnx spirals.onnx

The ONNX graph takes "X" (N, features) in the model's dtype and returns "Y", what the model's
predict returns (logits, unless the model ends in Softmax or Sigmoid). Needs the onnx
package: pip install "minimlp[onnx]".
"""


def add_arguments(parser) -> None:
    import argparse
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--model", metavar="FILE", required=True,
                        help="model file written by 'minimlp train' or mm.save")
    parser.add_argument("--onnx", metavar="FILE", required=True,
                        help="where to write the ONNX model; its folder must exist")


def run(args) -> int:

    try:
        check_output_file(args.onnx, "--onnx")     # before loading, not after
    except ConfigError as e:
        raise UsageError(str(e)) from None
    try:
        model = io.load(args.model)
    except FileNotFoundError:
        raise UsageError(f"model file {args.model!r} does not exist") from None
    except (ValueError, IsADirectoryError) as e:
        raise UsageError(str(e)) from None
    try:
        export_onnx(model, args.onnx)
    except (ModuleNotFoundError, TypeError) as e:
        raise UsageError(str(e)) from None
    print(f"wrote {args.onnx} (ONNX: input X, output Y)")
    return 0
