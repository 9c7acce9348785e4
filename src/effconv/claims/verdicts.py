"""The six verdicts, defined once. The intro page prints ``DEFINITIONS``; the rules in ``rules`` decide."""

from __future__ import annotations

from effconv.errors import EffconvError

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"
NOT_RUN = "not run"
#: The six verdicts, from the best outcome to "not run".
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_COMPARABLE, NOT_RUN)

#: One sentence per verdict saying when a claim gets it (the intro page prints them).
DEFINITIONS = {
    REPRODUCED: "Our evidence agrees: a counted value within 0.5% of the printed one (or rounding to it, halves "
                "away from zero; within 5% of a figure the paper calls approximate) or on the printed side of a "
                "printed bound; a trained effect whose 95% interval over at least 3 paired seeds excludes zero on "
                "the paper's side (and contains the paper's value where the size is graded); runs whose interval "
                "lies on a printed bound's side; or, for \"about the same\", an interval wholly within the "
                "chapter's stated margin.",
    PARTLY: "The claim holds only in part: a counted value near but not at the printed figure (within 5% of it, "
            "outside 0.5%, or missing a printed bound by at most 5% of the bound), an effect whose direction holds "
            "while the paper's value lies outside our interval (where the size is graded), or a claim over "
            "several cases that holds in some and is contradicted in none.",
    NOT_REPRODUCED: "Our evidence contradicts the claim: a counted value more than 5% away from the printed figure "
                    "or beyond its bound, an effect whose 95% interval excludes zero on the other side, runs whose "
                    "interval lies beyond a printed bound by more than the chapter's stated margin, or, for "
                    "\"about the same\", an interval wholly outside the margin.",
    INCONCLUSIVE: "Our runs cannot decide: the interval contains zero (or crosses the margin of an \"about the "
                  "same\" claim, or straddles a printed bound or misses it by less than the margin), or there are "
                  "fewer than 3 paired seeds.",
    NOT_COMPARABLE: "An absolute level (an accuracy) from a setting unlike the paper's (narrower model, shorter "
                    "schedule, JPEG CIFAR-10 instead of ImageNet); it is shown with its setting, not graded.",
    NOT_RUN: "The experiment behind the claim has not been run for this profile.",
}


def check_verdict(verdict: str) -> str:
    if verdict not in VERDICTS:
        raise EffconvError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}.")
    return verdict
