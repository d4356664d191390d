"""Experimental targets the model is checked against, with their sources.

Each band is what the literature reports (or, marked "approx.", what is read off a
published figure), widened only where the source itself gives a range.  The tests
and the figures read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    unit: str
    source: str

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def describe(self) -> str:
        return f"[{self.low}, {self.high}] {self.unit} ({self.source})"


INF = float("inf")

BANDS: dict[str, Band] = {
    # NMDA receptor Mg2+ block at [Mg]o = 1 mM
    "mg_block_minus65mV": Band(0.055, 0.065, "1", "Jahr & Stevens 1990: B(-65 mV) = 0.060"),
    "mg_block_0mV": Band(0.76, 0.80, "1", "Jahr & Stevens 1990: B(0 mV) = 0.78"),
    # spine calcium
    "ca_rest": Band(0.050, 0.100, "uM", "Sabatini, Oertner & Svoboda 2002: resting [Ca] 50-100 nM"),
    "ca_decay": Band(10.0, 20.0, "ms", "Sabatini et al. 2002: decay time constant 12-20 ms"),
    "ca_bap": Band(0.5, 2.0, "uM", "Sabatini et al. 2002: about 1 uM per backpropagating AP"),
    "ca_supralinearity": Band(1.3, INF, "x sum", "Sabatini et al. 2002; pre-before-post pairing is supralinear"),
    # backpropagation
    "bap_250um": Band(0.5, INF, "of somatic AP", "Golding et al. 2001: < 50 % attenuation within ~280 um"),
    # fEPSP, % of baseline
    "wtet_30min": Band(120, 160, "%", "Frey & Morris 1997: E-LTP ~130-150 % at 15-30 min"),
    "wtet_3h": Band(-INF, 110, "%", "Huang & Kandel 1994: one train lasts > 1 h, < 3 h"),
    "stet_1h": Band(140, 200, "%", "Frey & Morris 1997 (approx.): L-LTP ~150-180 % at 1 h"),
    "stet_8h": Band(130, INF, "%", "Frey et al. 1988: +96 +- 14 % at 8 h in controls"),
    "stet_aniso_8h": Band(-INF, 115, "%", "Frey et al. 1988: +15 +- 19 % at 8 h under anisomycin"),
    "aniso_first_hour_pp": Band(-15, 15, "percentage points", "anisomycin leaves the first 1-2 h intact"),
    "control_pathway": Band(90, 110, "%", "input specificity: an unstimulated pathway stays at baseline"),
    # two-pathway experiments; times after the pathway's own induction (tetani: first pulse;
    # low-frequency stimulation: last pulse)
    "stc_weak_8h": Band(120, INF, "%", "Frey & Morris 1997: WTET 35 min after STET on another pathway lasts >= 8 h"),
    "stc_aniso_weak_8h": Band(115, INF, "%", "Frey & Morris 1997: anisomycin around the weak tetanus only "
                              "does not prevent its capture of proteins made for S1"),
    "wlfs_30min": Band(70, 90, "%", "Sajikumar & Frey 2004 (approx.): E-LTD to about 75-85 %"),
    "wlfs_3h": Band(95, INF, "%", "Sajikumar & Frey 2004 (approx.): E-LTD recovers within about 3 h"),
    "slfs_6h_8h": Band(-INF, 85, "%", "Sajikumar & Frey 2004; Sajikumar et al. 2005 (approx.): L-LTD about "
                       "60-75 % for >= 6-8 h"),
    "slfs_floor": Band(50, INF, "%", "L-LTD is partial: never below half of the baseline response"),
    "cross_slfs_wtet_6h": Band(115, INF, "%", "Sajikumar & Frey 2004; Sajikumar et al. 2005: WTET after SLFS on "
                               "another pathway gives late LTP (cross-tagging)"),
    # spine structure (relative spine-head volume of the stimulated pathway)
    "spine_volume_late_ltp": Band(1.2, 3.0, "x initial", "Matsuzaki et al. 2004 (approx.): sustained enlargement "
                                  "by about 1.5-2x where LTP lasts; Tanaka et al. 2008: needs protein synthesis"),
    "spine_volume_early_ltp_peak": Band(1.1, 3.0, "x initial", "Matsuzaki et al. 2004: spines enlarge with LTP"),
    "spine_volume_after_early_ltp": Band(0.95, 1.05, "x initial", "Tanaka et al. 2008: without protein synthesis "
                                         "the enlargement is transient"),
    "cross_stet_wlfs_6h": Band(-INF, 90, "%", "Sajikumar & Frey 2004; Sajikumar et al. 2005: WLFS after STET on "
                               "another pathway gives late LTD (cross-tagging)"),
    # induction (fEPSP % of baseline 60 min after the end of the induction)
    "freq_1hz": Band(70, 85, "%", "Dudek & Bear 1992 (approx.): 900 pulses at 1 Hz give LTD to about 70-85 %"),
    "freq_10hz": Band(90, 110, "%", "Dudek & Bear 1992 (approx.): no change near 10 Hz"),
    "freq_50_100hz": Band(110, INF, "%", "Dudek & Bear 1992 (approx.): LTP at 50-100 Hz"),
    "freq_crossing_hz": Band(5, 20, "Hz", "Dudek & Bear 1992 (approx.): the curve crosses baseline once, "
                             "between LTD at 1-5 Hz and LTP above 10-20 Hz"),
    "freq_apv": Band(95, 105, "%", "Dudek & Bear 1992; Mulkey & Malenka 1992: APV blocks both LTD and LTP"),
    "stdp_pre_post": Band(120, INF, "%", "Bi & Poo 1998 (approx.): a spike 5-10 ms after the pulse potentiates "
                          "(+20 % or more)"),
    "stdp_post_pre": Band(-INF, 90, "%", "Bi & Poo 1998 (approx.): a spike 5-10 ms before the pulse depresses "
                          "(-10 % or more)"),
    "stdp_far": Band(90, 110, "%", "Bi & Poo 1998 (approx.): little change when |dt| >= 50 ms"),
    "stdp_apv": Band(95, 105, "%", "Bi & Poo 1998: STDP is NMDA receptor dependent"),
    # drugs (biophys_ltp/drugs.toml); the model was not tuned on any of these: they were run
    # after the drugs' targets were written, as predictions.  fEPSP % of baseline after a
    # strong tetanus at 30 min (times from the tetanus) unless said otherwise.
    "actd_around_8h": Band(-INF, 115, "%", "Nguyen, Abel & Kandel 1994 (Science 265:1104): actinomycin D during "
                           "and right after the tetani blocks the late phase (as anisomycin: Frey et al. 1988)"),
    "actd_first_hour_pp": Band(-15, 15, "percentage points", "Nguyen, Abel & Kandel 1994: actinomycin D leaves "
                               "early LTP (the first hour)"),
    "actd_after_8h": Band(130, INF, "%", "Nguyen, Abel & Kandel 1994: actinomycin D given 2 h after the tetani "
                          "does not block the late phase (control band: stet_8h)"),
    "kn62_1h": Band(-INF, 110, "%", "Ito, Hidaka & Sugiyama 1991 (Neurosci Lett 121:119); Malinow, Schulman & "
                    "Tsien 1989: CaMKII inhibition during the tetani blocks LTP induction"),
    "kt5720_8h": Band(-INF, 115, "%", "Frey, Huang & Kandel 1993 (Rp-cAMPS); Abel et al. 1997 (PKA-inhibiting "
                      "transgene): blocking PKA blocks the late phase"),
    "kt5720_first_hour_pp": Band(-15, 15, "percentage points", "Frey, Huang & Kandel 1993; Abel et al. 1997: "
                                 "blocking PKA spares early LTP"),
    "forskolin_8h": Band(120, INF, "%", "Frey, Huang & Kandel 1993: raising cAMP (forskolin) gives a potentiation "
                         "lasting hours, on every pathway of the slice (no stimulation needed)"),
    "forskolin_aniso_8h": Band(-INF, 115, "%", "Frey, Huang & Kandel 1993: anisomycin blocks the lasting "
                               "cAMP-induced potentiation"),
    "zip_stet_5h": Band(-INF, 115, "%", "Serrano et al. 2005 (J Neurosci 25:1979); Sajikumar et al. 2005 (J "
                        "Neurosci 25:5750): ZIP after induction reverses established late LTP"),
    "zip_slfs_pp": Band(-5, 5, "percentage points", "Sajikumar et al. 2005: ZIP leaves late LTD (difference to "
                        "strong LFS without ZIP, 5 h after it)"),
}

# Experimental time courses drawn beside the model (fEPSP % of baseline; time after the
# tetanus).  Values read off published figures are marked approx. in their source.
EXPERIMENTAL_POINTS = [
    # protocol, time_h, fepsp_pct, sem_pct, source
    ("WTET", 0.25, 140.0, 10.0, "Frey & Morris 1997 (approx.): E-LTP 130-150 % at 15-30 min"),
    ("WTET", 3.0, 100.0, 10.0, "Huang & Kandel 1994 (approx.): back to baseline within 2-3 h"),
    ("STET", 1.0, 165.0, 15.0, "Frey & Morris 1997 (approx.): 150-180 % at 1 h"),
    ("STET", 8.0, 155.0, 15.0, "Frey & Morris 1997 (approx.): 140-170 % at 8 h"),
    ("STET + anisomycin", 8.0, 115.0, 19.0, "Frey et al. 1988: +15 +- 19 % at 8 h"),
]

# Depression (fEPSP % of baseline; time after the end of the low-frequency stimulation).
LTD_POINTS = [
    # protocol, time_h, fepsp_pct, sem_pct, source
    ("WLFS", 0.5, 80.0, 5.0, "Sajikumar & Frey 2004 (approx.): E-LTD to about 75-85 %"),
    ("WLFS", 3.0, 100.0, 5.0, "Sajikumar & Frey 2004 (approx.): back to baseline within about 3 h"),
    ("SLFS", 6.0, 67.5, 7.5, "Sajikumar & Frey 2004; Sajikumar et al. 2005 (approx.): 60-75 % for >= 6-8 h"),
    ("SLFS", 8.0, 67.5, 7.5, "Sajikumar & Frey 2004; Sajikumar et al. 2005 (approx.): 60-75 % for >= 6-8 h"),
]
