"""biophys-ltp: early and late LTP in a compartmental CA1 neuron model (Brian2)."""

__version__ = "0.1.0"

from .model import Model, ModelError, list_models, load_model  # noqa: E402
from .protocol import Protocol, ProtocolError, list_protocols, load_protocol  # noqa: E402
from .simulation import Results, simulate, simulate_many  # noqa: E402
from .sweep import SweepError, SweepResults, load_sweep, sweep  # noqa: E402

__all__ = ["Model", "ModelError", "Protocol", "ProtocolError", "Results", "list_models",
           "list_protocols", "load_model", "load_protocol", "simulate", "simulate_many", "SweepError", "SweepResults", "load_sweep", "sweep",
           "__version__"]
