"""xnorflow: binary CNNs with real-valued shortcuts, from Brevitas training to XNOR-popcount RTL."""
from xnorflow.errors import XnorflowError

__all__ = ["XnorflowError"]
__version__ = "0.1.0"
