"""Chapter 5 claims: counted claims, trained effects over seeds and the orthogonal loss against its control,
from synthetic results (no training); the paper values they are graded against."""

import pytest

from effconv.claims import COLUMNS, VERDICTS, ClaimsTable
from effconv.studies.paper import paper_table, paper_value
from effconv.studies.versatile import claims as versatile_claims
from versatile_fakes import LABELS, cpu_results, first_seed


def trained_frame(accs, profile="cpu", **mask_kwargs):
    specs, results = cpu_results(accs, profile, **mask_kwargs)
    claims = versatile_claims.add_trained(ClaimsTable("versatile"), profile, specs, results)
    return claims.frame().set_index("claim")


def row(table, text):
    rows = table.filter(like=text, axis=0)
    assert len(rows) == 1, text
    return rows.iloc[0]


@pytest.fixture(scope="module")
def counted_ledger():
    return versatile_claims.add_counted(ClaimsTable("versatile")).frame().set_index("claim")


def test_counted_claims(counted_ledger):
    table = counted_ledger
    assert set(table["kind"]) == {"counted"} and set(table["verdict"]) <= set(VERDICTS)
    assert row(table, "10/18")["verdict"] == "reproduced"
    assert row(table, "centre crop")["verdict"] == "reproduced" and row(table, "centre crop")["ours"] == "0"
    assert row(table, "gradient of the orthogonal")["verdict"] == "reproduced"
    assert table.loc["Versatile-v2 ResNet-50 GFLOPs", "verdict"] == "not reproduced"  # 3.167 vs 3.0
    assert table.loc["Versatile-v2 ResNet-50 memory (MB)", "verdict"] == "partly"  # 0.6% above 41.7
    assert table.loc["Versatile-v1 ResNet-50 memory / ResNet-50 memory", "verdict"] == "reproduced"
    assert "torchvision" in table.loc["ResNet-50 GFLOPs", "source"]  # 4.1 G is torchvision's v1.5, not He et al.


def test_trained_claims_with_nothing_stored():
    table = trained_frame({})
    trained = table[table["profile"] == "cpu"]
    assert len(trained) == 8 and (trained["verdict"] == "not run").all() and (trained["ours"] == "").all()
    assert ["claim", *table.columns] == COLUMNS


def test_one_seed_per_arm_is_inconclusive():
    specs, results = cpu_results({label: 0.9 for label in LABELS}, changed=0.02)
    claims = versatile_claims.add_trained(ClaimsTable("versatile"), "cpu", specs, first_seed(specs, results))
    table = claims.frame().set_index("claim")
    effects = table[table["evidence"].str.contains("paired by seed")]
    assert len(effects) == 5 and (effects["verdict"] == "inconclusive").all() and (effects["n"] == "1").all()


def test_effects_over_seeds_in_both_directions():
    noise = {0: 0.0, 1: 0.002, 2: -0.001, 3: 0.001, 4: -0.002}
    accs = {"baseline": {s: 0.90 + e for s, e in noise.items()},
            "versatile v1": {s: 0.88 + 1.5 * e for s, e in noise.items()},  # 2 points below the baseline
            "versatile v2": {s: 0.86 + e for s, e in noise.items()},
            "learned masks (a)": {s: 0.89 for s in range(3)}, "learned masks (b)": {0: 0.891, 1: 0.889, 2: 0.890}}
    table = trained_frame(accs)
    v1 = row(table, "(v1) are at least as accurate")
    assert v1["verdict"] == "not reproduced" and v1["n"] == "5" and v1["paper"] == "0.7"  # the wrong sign
    assert row(table, "(v2) lose accuracy")["verdict"] == "reproduced"
    assert row(table, "v1 beats v2")["verdict"] == "reproduced"
    assert row(table, "(b) beats")["verdict"] == "inconclusive"  # +0.1, -0.1, 0: the interval holds 0
    cifar = row(table, "VGG-16 top-1 (%): ImageNet")
    assert cifar["verdict"] == "not comparable" and "width 0.25" in cifar["evidence"]


def test_orthogonal_loss_is_graded_against_its_lambda0_control():
    accs = {label: 0.9 for label in LABELS}
    apart = trained_frame(accs, **{"learned masks (b)": {"hamming": {0: 0.7, 1: 0.72, 2: 0.71}},
                                   "learned masks (b), lambda = 0": {"hamming": {0: 0.5, 1: 0.49, 2: 0.52}}})
    assert row(apart, "orthogonal loss")["verdict"] == "reproduced"
    closer = trained_frame(accs, **{"learned masks (b)": {"hamming": {0: 0.4, 1: 0.41, 2: 0.42}},
                                    "learned masks (b), lambda = 0": {"hamming": {0: 0.5, 1: 0.49, 2: 0.52}}})
    assert row(closer, "orthogonal loss")["verdict"] == "not reproduced"
    no_control = {label: acc for label, acc in accs.items() if label != "learned masks (b), lambda = 0"}
    assert row(trained_frame(no_control), "orthogonal loss")["verdict"] == "not run"


def test_smoke_claims_give_no_verdict():
    table = trained_frame({label: 0.1 for label in LABELS}, "smoke", changed=0.0)
    smoke = table[table["profile"] == "smoke"]
    assert len(smoke) == 8 and (smoke["verdict"] == "not run").all()
    assert smoke[smoke["evidence"].str.contains("paired by seed")]["evidence"].str.contains("smoke profile").sum() == 4


def test_paper_values_file():
    table = paper_table("versatile")
    for key, expected in [("imagenet_vgg16_top1", 71.5), ("imagenet_vgg16_v1_top1", 72.2),
                          ("imagenet_vgg16_v2_top1", 70.4), ("resnet50_v2_params", 11.0),
                          ("resnet50_v2_gflops", 3.0), ("resnet50_v2_top1", 74.5), ("resnet50_v2_top5", 91.8),
                          ("resnet50_params", 25.6), ("resnet50_gflops", 4.1), ("resnet50_top1", 76.1),
                          ("coco_resnet50_memory", 97.2), ("coco_resnet50_v1_memory", 75.6),
                          ("coco_resnet50_v2_memory", 41.7), ("coco_resnet50_v2_map", 31.3)]:
        assert paper_value("versatile", key).value == expected
    assert paper_value("versatile", "resnet50_v2_top1").tag == "transcribed"
    assert paper_value("versatile", "spatial_3x3_flops_ratio").value == pytest.approx(10 / 18, abs=1e-6)
    assert set(table.columns) == {"value", "unit", "tag", "source", "note"}
