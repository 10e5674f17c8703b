"""The experiment application: the `keras-lerac` command and what it runs.

- `paired`: the paired A/B comparison (`compare_regimes`, `ABComparison`): one model under
  several regimes, the same initial weights and batch order per seed; the core the
  command, the benchmarks and a user's own script call. Its parts: `inputs` (the data
  checked against the model, the default loss, `InputError`), `builders` (a fresh model
  and optimizer per run), `regimes` (what each regime changes in a run), `pairing` (how
  runs are paired, the batches a run is served, the checks, `PairingError`) and
  `comparison` (`ABComparison`: statistics, `results.json`).
- `cli`: the command (argument parsing and checks, no Keras until a command runs).
- `runner`: the command's settings (built-in models and data sets, or files) turned into
  a paired comparison; also used by `benchmarks/`.
- `report`: the tables it prints, the plots beside `results.json`.
- `progress`: the progress bar of a whole comparison.
- `stats`: paired statistics (mean difference, standard error, 95 % interval, wins).
- `models`: the built-in models; `data`: the offline data sets.

The library (`keras_lerac.*` outside this package) never imports this package.
"""
