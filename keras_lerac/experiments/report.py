"""What a comparison leaves behind: the table it prints, results.json, the plots."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys

from keras_lerac.experiments.runner import Data, Settings

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def machine_info() -> dict:
    """Platform, processor, CPU count and library versions, for results.json."""
    import keras
    import numpy as np

    processor = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    processor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "processor": processor,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    backend = keras.backend.backend()
    module = sys.modules.get(BACKEND_MODULES[backend])
    if module is not None:
        info[backend] = getattr(module, "__version__", "unknown")
    return info


def format_table(regimes: dict) -> str:
    """The table `compare` prints: test accuracy mean +- std and wall time per regime."""
    headers = ("Regime", "Test accuracy % (mean +- std)", "Seeds", "Fit time / run (s)")
    rows = [
        (
            name,
            f"{100 * entry['mean']:.2f} +- {100 * entry['std']:.2f}",
            str(len(entry["test_accuracy"])),
            f"{entry['mean_wall_time_s']:.1f}",
        )
        for name, entry in regimes.items()
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    rule = "-" * len(line(headers))
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def curriculum_record(lerac, steps_per_epoch: int) -> dict:
    """LeRaC's curriculum as it ran: K, the start rates, and which came from the defaults."""
    config = lerac.get_config()
    return {
        "schedule": config["schedule"],
        "curriculum_steps": config["curriculum_steps"],
        "curriculum_epochs": config["curriculum_steps"] / steps_per_epoch,
        "min_learning_rate": lerac.curriculum.start_rates[-1] if lerac.built else config["min_learning_rate"],
        "total_steps": config["total_steps"],
        "suggested": list(lerac.suggested_settings),
        "num_buckets": len(lerac.start_ratios),
    }


def settings_record(settings: Settings, data: Data, lerac, skipped: dict) -> dict:
    """The settings block of results.json."""
    import keras

    steps = data.steps_per_epoch(settings.batch_size)
    record = dataclasses.asdict(settings)
    record.update(
        {
            "backend": keras.backend.backend(),
            "train_examples": int(len(data.train[0])),
            "test_examples": int(len(data.test[0])),
            "seeds": list(settings.seeds),
            "regimes": list(settings.regimes),
            "steps_per_epoch": steps,
            "optimizer": "adam" if settings.optimizer == "adam" else "sgd (momentum 0.9)",
            "learning_rate": settings.base_rate,
            "curriculum": None if lerac is None else curriculum_record(lerac, steps),
            "cbs": {
                "kernel_size": 3,
                "sigma": settings.cbs_sigma,
                "decay": settings.cbs_decay,
                "every_epochs": settings.cbs_every,
            },
            "skipped_regimes": skipped,
            "curves": "per epoch History: loss/accuracy on the training split, val_* on the test split",
            "wall_time": "seconds of model.fit per run (tracing/compilation included)",
            "machine": machine_info(),
        }
    )
    return record


def write(output: str, settings: Settings, outcome: dict, skipped: dict) -> list[str]:
    """Writes results.json, curriculum.png and accuracy.png; returns the paths written."""
    data, lerac = outcome["data"], outcome["lerac"]
    os.makedirs(output, exist_ok=True)
    json_path = os.path.join(output, "results.json")
    record = {"settings": settings_record(settings, data, lerac, skipped), "regimes": outcome["regimes"]}
    with open(json_path, "w") as f:
        json.dump(record, f, indent=2)
    written = [json_path]
    try:
        from keras_lerac.plotting import plot_accuracy, plot_curriculum

        if lerac is not None:
            path = os.path.join(output, "curriculum.png")
            plot_curriculum(
                lerac, steps=settings.epochs * data.steps_per_epoch(settings.batch_size), path=path
            )
            written.append(path)
        path = os.path.join(output, "accuracy.png")
        plot_accuracy(outcome["regimes"], path=path)
        written.append(path)
    except ImportError as error:
        print(f"note: no plots: {error}")
    return written
