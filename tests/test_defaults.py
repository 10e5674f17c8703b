"""The defaults rule: `LeRaC(optimizer, total_steps=N)` picks K and the start rates.

The rule itself (`keras_lerac.curriculum.suggested_curriculum`) comes from the
sensitivity study (docs/sensitivity.md); these tests pin the documented values, that
the chosen values reach the plan and the config and survive a save, and that explicit
arguments override them. No accuracy and no timing.
"""

import keras
import numpy as np
import pytest
from helpers import classification_data, mlp

from keras_lerac import LeRaC
from keras_lerac.curriculum import (
    SUGGESTED_K_FRACTION,
    SUGGESTED_LOWEST_RATIO,
    start_ratios,
    suggested_curriculum,
)
from keras_lerac.summary import plan

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.mark.parametrize(
    ("total_steps", "expected"),
    [
        (1, (1, 1e-4)),  # K is at least one step
        (10, (1, 1e-4)),
        (100, (2, 1e-4)),  # 2.5 steps rounds to even: 2
        (630, (16, 1e-4)),  # the study's central configuration: 15 epochs of 42 batches
        (1890, (47, 1e-4)),
        (78_200, (1955, 1e-4)),  # the paper's CIFAR-10 run: 200 epochs of 391 batches
    ],
)
def test_the_rule_gives_the_documented_values(total_steps, expected):
    assert SUGGESTED_K_FRACTION == 0.025 and SUGGESTED_LOWEST_RATIO == 1e-4  # docstring, README
    assert suggested_curriculum(total_steps) == expected


@pytest.mark.parametrize("bad", [0, -5, 2.5, "630", True, None])
def test_the_rule_refuses_a_bad_length(bad):
    with pytest.raises((TypeError, ValueError), match="total_steps"):
        suggested_curriculum(bad)


def _built(opt, depth=4):
    model = mlp(depth=depth)
    model.compile(optimizer=opt, loss=LOSS)
    x, y = classification_data(n=16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


def test_lerac_takes_k_and_start_rates_from_total_steps():
    opt = LeRaC(keras.optimizers.SGD(0.1, momentum=0.9), total_steps=630)
    assert opt.settings.curriculum_steps == 16
    assert opt.settings.min_learning_rate == pytest.approx(0.1 * 1e-4)
    assert opt.settings.suggested == ("curriculum_steps", "min_learning_rate")
    model = _built(opt)
    count = len(opt.bucket_optimizers)
    expected = [0.1 * r for r in start_ratios(count, 1e-4)]
    np.testing.assert_allclose(opt.learning_rates_at(0), expected, rtol=1e-6)
    np.testing.assert_allclose(opt.learning_rates_at(16), [0.1] * count, rtol=1e-6)
    text = plan(model, opt, print_fn=lambda text: None)
    assert "K=16 iterations" in text
    assert "(K and start rates suggested for 630 steps)" in text
    assert "1.000e-05" in text  # the last bucket's start rate, 1e-4 x 0.1


def test_the_reference_is_the_peak_of_a_warm_up_schedule():
    warm_up = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=1000, warmup_target=0.2, warmup_steps=100
    )
    opt = LeRaC(keras.optimizers.SGD(warm_up), total_steps=1100)
    assert opt.settings.curriculum_steps == 28
    assert opt.settings.min_learning_rate == pytest.approx(0.2 * 1e-4)


def test_the_chosen_values_round_trip_through_the_config():
    opt = LeRaC(keras.optimizers.Adam(0.01), total_steps=400)
    config = opt.get_config()
    assert config["total_steps"] == 400 and config["curriculum_steps"] == 10
    assert config["min_learning_rate"] == pytest.approx(1e-6)
    assert config["suggested"] == ["curriculum_steps", "min_learning_rate"]
    again = LeRaC.from_config(config)
    assert again.settings.curriculum_steps == 10 and again.settings.min_learning_rate == pytest.approx(1e-6)
    assert again.settings.total_steps == 400 and again.settings.suggested == opt.settings.suggested
    assert again.get_config() == config


def test_the_chosen_values_survive_save_and_load(tmp_path):
    opt = LeRaC(keras.optimizers.SGD(0.05, momentum=0.9), total_steps=200)
    model = _built(opt)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path).optimizer
    assert isinstance(loaded, LeRaC)
    assert loaded.settings.curriculum_steps == 5 and loaded.settings.min_learning_rate == pytest.approx(5e-6)
    assert loaded.settings.suggested == ("curriculum_steps", "min_learning_rate")
    np.testing.assert_allclose(loaded.learning_rates_at(2), opt.learning_rates_at(2), rtol=1e-6)


def test_explicit_arguments_override_the_rule():
    base = keras.optimizers.SGD(0.1)
    only_k = LeRaC(base, total_steps=630, curriculum_steps=50)
    assert only_k.settings.curriculum_steps == 50 and only_k.settings.min_learning_rate == pytest.approx(1e-5)
    assert only_k.settings.suggested == ("min_learning_rate",)
    only_rate = LeRaC(base, total_steps=630, min_learning_rate=1e-3)
    assert (
        only_rate.settings.curriculum_steps == 16
        and only_rate.settings.min_learning_rate == pytest.approx(1e-3)
    )
    assert only_rate.settings.suggested == ("curriculum_steps",)
    both = LeRaC(base, total_steps=630, curriculum_steps=7, min_learning_rate=1e-2)
    assert (both.settings.curriculum_steps, both.settings.min_learning_rate) == (7, 1e-2)
    assert both.settings.suggested == ()
    rates = LeRaC(base, total_steps=630, initial_learning_rates=[0.1, 0.01])
    assert rates.settings.min_learning_rate is None and rates.settings.suggested == ("curriculum_steps",)
    off = LeRaC(base, total_steps=630, curriculum_steps=0)
    assert off.settings.min_learning_rate is None and off.settings.suggested == ()
    assert "suggested" not in plan(_built(both), both, print_fn=lambda text: None)


def test_without_total_steps_the_curriculum_must_be_given():
    with pytest.raises(ValueError, match="`total_steps`"):
        LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-4)
    with pytest.raises(ValueError, match="`total_steps`"):
        LeRaC(keras.optimizers.SGD(0.1), curriculum_steps=10)
