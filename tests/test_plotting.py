"""plot_curriculum and plot_accuracy write real PNG files."""

import keras
import numpy as np
import pytest

import keras_lerac

matplotlib = pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def _built_lerac(schedule="exponential", depth=3):
    inputs = keras.Input((4,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(4, name=f"d{i}")(x)
    model = keras.Model(inputs, x)
    opt = keras_lerac.LeRaC(
        keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=40, schedule=schedule, model=model
    )
    opt.build(model.trainable_variables)
    return opt


def extents(fig, ax, text):
    """Window boxes of a text and its axes, as drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return text.get_window_extent(renderer), ax.get_window_extent(renderer)


@pytest.mark.parametrize("schedule", ["exponential", "stepwise"])
def test_plot_curriculum_png(tmp_path, schedule):
    opt = _built_lerac(schedule)
    path = tmp_path / "curriculum.png"
    fig = keras_lerac.plot_curriculum(opt, path=str(path))
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    buckets = [line for line in lines if line.get_label().startswith("bucket")]
    assert len(buckets) == 3
    # The curves are the host schedule; the curriculum end K is marked.
    xs, ys = buckets[2].get_data()
    np.testing.assert_allclose(ys, [opt.learning_rates_at(int(t))[2] for t in xs])
    assert any(np.allclose(line.get_xdata(), 40) for line in lines if line not in buckets)
    (label,) = [t for t in ax.texts if t.get_text() == "K = 40"]
    # The K label lies inside the axes and covers no curve.
    box, frame = extents(fig, ax, label)
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    for line in buckets:
        points = ax.transData.transform(np.column_stack(line.get_data()))
        assert not any(box.contains(x, y) for x, y in points)


@pytest.mark.parametrize("steps", [41, 50, 400])
def test_the_k_label_stays_inside_at_any_length(steps):
    opt = _built_lerac("exponential")
    fig = keras_lerac.plot_curriculum(opt, steps=steps)
    ax = fig.axes[0]
    (label,) = [t for t in ax.texts if t.get_text() == "K = 40"]
    box, frame = extents(fig, ax, label)
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1


def test_plot_curriculum_many_buckets_and_ax(tmp_path):
    from matplotlib.figure import Figure

    opt = _built_lerac(depth=12)
    fig = Figure()
    ax = fig.add_subplot()
    assert keras_lerac.plot_curriculum(opt, steps=60, ax=ax) is fig
    assert len(fig.axes) == 2  # a colorbar instead of a 12-entry legend


def test_plot_accuracy_png(tmp_path):
    results = {
        "conventional": {"curves": [{"val_accuracy": [0.5, 0.8, 0.9]}, {"val_accuracy": [0.6, 0.8, 0.92]}]},
        "lerac": [[0.4, 0.85, 0.93], [0.45, 0.86, 0.94]],
    }
    path = tmp_path / "accuracy.png"
    fig = keras_lerac.plot_accuracy(results, str(path))
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["conventional (n=2)", "lerac (n=2)"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [0.55, 0.8, 0.91])


@pytest.mark.parametrize("epochs", [1, 3, 7, 40])
def test_accuracy_plot_ticks_are_whole_epochs(epochs):
    results = {"lerac": [[0.5 + 0.01 * e for e in range(epochs)]]}
    fig = keras_lerac.plot_accuracy(results)
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= epochs]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_plot_needs_built_optimizer():
    opt = keras_lerac.LeRaC(keras.optimizers.SGD(0.1), min_learning_rate=1e-6, curriculum_steps=4)
    with pytest.raises(ValueError, match="build"):
        keras_lerac.plot_curriculum(opt)
