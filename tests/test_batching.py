"""Files per Prefect task: large enough that task bookkeeping stays small, small enough to balance."""

from pipelines.flows import batch_size
from pipelines.settings import Settings


def test_adaptive_batch_size(tmp_path):
    s = Settings(home=tmp_path, workers=2)
    assert batch_size(1000, s) == 63  # ≈8 tasks per worker
    assert batch_size(10, s) == 4  # never below 4
    assert batch_size(100_000, s) == 64  # never above 64: a crash loses at most one batch per worker
    assert batch_size(1000, s.model_copy(update={"batch_size": 2})) == 2  # an explicit size wins
    assert batch_size(1000, s.model_copy(update={"dask_workers": 4})) == 32
