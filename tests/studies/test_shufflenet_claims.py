"""Chapter 2's counted claims."""

from effconv.claims import ClaimsTable
from effconv.studies.shufflenet.claims import add_complexity_claims


def test_complexity_claims():
    claims = ClaimsTable("shufflenet")
    add_complexity_claims(claims)
    frame = claims.frame()
    assert len(frame) == 5 + 1 + 8 + 1 + 1 and set(frame["kind"]) == {"counted"}
    # every count is within the book's 0.5% tolerance, the released 1.0x g=3 included (137.46 against the
    # README's 138, which the old whole-number rule called not reproduced)
    assert set(frame["verdict"]) == {"reproduced"}
    row = frame[frame["claim"] == "released ShuffleNetV1 1.0x g=3 (MFLOPs)"].iloc[0]
    assert row["paper"] == "138" and row["ours"] == "137.5"
