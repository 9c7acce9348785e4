"""Chapter 4 (DAC), ``checks``: the method's guarantees on a whole model (the ledger's counted checks are graded
in test_dac_claims)."""

from __future__ import annotations

import torch

from effconv.models import create_model
from effconv.studies.dac import checks as dac_checks
from effconv.studies.dac import decompose as study


def test_spectrum_errors_match_reconstruction():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125)
    spectrum = dac_checks.spectrum_errors(model, ranks=[1, 4, 8])
    recon = study.reconstruction_errors(model, ranks=[1, 4, 8], with_channel_svd=False)
    merged = spectrum.merge(recon, on=["layer", "rank"], suffixes=("", "_decomposed"))
    assert len(merged) == 39 and (merged["rel_error"] - merged["rel_tail"]).abs().max() < 1e-12
