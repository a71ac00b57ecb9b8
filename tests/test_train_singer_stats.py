import numpy as np

from core.train.singer_stats import singer_f0_medians
from tests.test_data_preprocess import corpus_and_cache  # noqa: F401  (the shared fixture)


def test_each_singers_median_f0_comes_from_its_own_unaugmented_clips(corpus_and_cache):  # noqa: F811
    _, cache, _, _ = corpus_and_cache
    medians = singer_f0_medians(cache)
    assert set(medians) == {"singer0", "singer1"}
    # make_corpus sings singer0 at 180 Hz x 2^(i/12) and singer1 30 % higher, i = 0..2 (+-1 % vibrato).
    assert 175 < medians["singer0"] < 205
    assert np.isclose(medians["singer1"] / medians["singer0"], 1.3, rtol=0.05)
