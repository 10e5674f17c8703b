"""The experiment application: the `keras-lerac` command and what it runs.

- `cli`: the command (argument parsing and checks, no Keras until a command runs).
- `runner`: the comparison runner (one model, several regimes, same seeds), also used
  by `benchmarks/`.
- `report`: the table it prints, `results.json`, the plots.
- `models`: the built-in models; `data`: the offline data sets.

The library (`keras_lerac.*` outside this package) never imports this package.
"""
