import numpy as np
import pytest

from genie.config import ConfigError, OptimConfig
from genie.train.optim import learning_rate


@pytest.mark.parametrize("schedule", ["cosine", "wsd", "constant"])
def test_every_schedule_warms_up_linearly_to_the_peak(schedule):
    lr = learning_rate(OptimConfig(steps=1000, lr=1e-3, warmup_steps=100, schedule=schedule))
    np.testing.assert_allclose([lr(0), lr(50), lr(100)], [0.0, 5e-4, 1e-3], rtol=1e-5)


def test_each_schedule_decays_as_named():
    def at(schedule, *steps):
        lr = learning_rate(OptimConfig(steps=1000, lr=1e-3, warmup_steps=100, schedule=schedule,
                                       end_lr_fraction=0.1, decay_fraction=0.2))
        return [float(lr(s)) for s in steps]

    cosine = at("cosine", 550, 1000)
    np.testing.assert_allclose(cosine, [5.5e-4, 1e-4], rtol=1e-4)  # half way down the cosine, then the end value
    wsd = at("wsd", 500, 800, 900, 1000)
    np.testing.assert_allclose(wsd, [1e-3, 1e-3, 5.5e-4, 1e-4], rtol=1e-4)  # stable until the last 20%, then linear
    np.testing.assert_allclose(at("constant", 500, 1000), [1e-3, 1e-3], rtol=1e-6)  # Genie's tokenizer schedule


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ConfigError, match="use cosine, wsd or constant"):
        learning_rate(OptimConfig(schedule="linear"))
