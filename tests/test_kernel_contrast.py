"""Within-model contrasts of kernel-importance maps: zero when flat, signed either way, graded on seeds."""

import numpy as np
import pandas as pd
import pytest

from effconv.analysis.kernel_contrast import (CONTRASTS, contrasts_by_seed, region_contrast, region_mask,
                                              standardised)
from effconv.claims import grade_change, grade_effect
from effconv.errors import EffconvError

FLAT = np.full((3, 3), 0.93)                        # about the base model's map at initialisation


def peaked(seed: int, gain: float = 0.6) -> np.ndarray:
    """Unnormalised magnitudes with a strong skeleton (a cross) and a little seed noise."""
    rng = np.random.default_rng(seed)
    cross = region_mask("skeleton", 3).astype(float)
    return 2.0 * (1.0 + gain * cross + 0.02 * rng.standard_normal((3, 3)))


def test_region_masks():
    assert region_mask("corners", 3).sum() == 4 and region_mask("global", 5).all()
    assert np.array_equal(region_mask("top_left", 3), ~region_mask("border", 3))


def test_flat_map_has_no_contrast_whatever_its_scale():
    for region, against in CONTRASTS.values():
        assert region_contrast(FLAT, region, against) == pytest.approx(0.0, abs=1e-12)
        assert region_contrast(FLAT * 40, region, against) == pytest.approx(0.0, abs=1e-12)


def test_contrast_is_signed_and_within_the_model():
    up = peaked(0)
    reversed_map = up.max() + up.min() - up           # the cross now the weakest
    assert region_contrast(up, "skeleton", "corners") > 0.3
    assert region_contrast(reversed_map, "skeleton", "corners") < -0.3
    assert region_contrast(up * 7.5, "skeleton", "corners") == pytest.approx(region_contrast(up, "skeleton", "corners"))
    # max-normalised across models, the peaked map looks weaker than the flat one on the skeleton (0.9 < 1.0);
    # the within-model contrast says the opposite, which is what training did
    assert (up / up.max())[region_mask("skeleton", 3)].mean() < (FLAT / FLAT.max())[region_mask("skeleton", 3)].mean()
    border = np.ones((3, 3))
    border[2, :] = border[:, 2] = 1.5
    assert region_contrast(border, "border", "top_left") > 0
    assert region_contrast(border[::-1, ::-1], "border", "top_left") < 0      # the heavy edges now at the top left


def test_flat_at_init_and_peaked_after_training_is_graded_on_a_contrast_that_can_fail():
    seeds = range(5)
    initial = contrasts_by_seed({s: FLAT * (1 + 0.01 * s) for s in seeds}, *CONTRASTS["skeleton"])
    trained = contrasts_by_seed({s: peaked(s) for s in seeds}, *CONTRASTS["skeleton"])
    assert all(abs(v) < 1e-12 for v in initial.values()) and all(v > 0.3 for v in trained.values())
    assert grade_change(initial, trained).verdict == "reproduced"
    # the same measure contradicts the claim when training moved magnitude off the skeleton
    moved_off = contrasts_by_seed({s: peaked(s).max() + peaked(s).min() - peaked(s) for s in seeds},
                                  *CONTRASTS["skeleton"])
    assert grade_change(initial, moved_off).verdict == "not reproduced"
    # and says nothing when training left the map flat
    assert grade_change(initial, contrasts_by_seed({s: FLAT + 0.001 * np.eye(3) * (-1) ** s for s in seeds},
                                                   *CONTRASTS["skeleton"])).verdict == "inconclusive"


def test_two_models_compared_by_their_own_contrasts_paired_by_seed():
    acnet = contrasts_by_seed({s: peaked(s, gain=0.6) for s in range(3)}, *CONTRASTS["skeleton"])
    weaker = contrasts_by_seed({s: peaked(s + 10, gain=0.3) for s in range(3)}, *CONTRASTS["skeleton"])
    assert grade_effect(acnet, weaker).verdict == "reproduced"
    assert grade_effect(weaker, acnet).verdict == "not reproduced"
    assert set(contrasts_by_seed({0: FLAT, 1: None}, "skeleton", "corners")) == {0}   # a run not made


@pytest.mark.parametrize("matrix, message", [
    (np.ones((3, 4)), "square kxk"),
    (np.ones((4, 4)), "odd k"),
    (np.ones(9), "square kxk"),
    (np.zeros((3, 3)), "not all zero"),
    (-np.ones((3, 3)), "non-negative"),
    (np.full((3, 3), np.nan), "finite"),
])
def test_bad_maps_are_refused_with_the_fix(matrix, message):
    with pytest.raises(EffconvError, match=message):
        standardised(matrix)


def test_a_stored_dataframe_and_an_unknown_region():
    frame = pd.DataFrame(peaked(1))
    expected = region_contrast(peaked(1), "skeleton", "corners")
    assert region_contrast(frame, "skeleton", "corners") == pytest.approx(expected)
    with pytest.raises(EffconvError, match="unknown kernel region"):
        region_contrast(FLAT, "centre", "corners")
