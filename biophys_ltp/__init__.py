"""biophys-ltp: early and late LTP in a compartmental CA1 neuron model (Brian2)."""

from ._version import __version__
from .errors import BiophysLTPError, InputError, ResultError, SetupError, SimulationError
from .model import Model, ModelError, list_models, load_model
from .protocol import Protocol, ProtocolError, list_protocols, load_protocol
from .simulation import Results, simulate, simulate_many
from .sweep import SweepError, SweepResults, load_sweep, sweep

__all__ = ["BiophysLTPError", "InputError", "Model", "ModelError", "Protocol", "ProtocolError", "ResultError",
           "Results", "SetupError", "SimulationError", "SweepError", "SweepResults", "list_models",
           "list_protocols", "load_model", "load_protocol", "load_sweep", "simulate", "simulate_many", "sweep",
           "__version__"]
