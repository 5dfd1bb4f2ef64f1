"""Optuna studies of data-collection policies: *given a budget of B training images, how should I collect them?*

One concept a module, and the worker never imports the driver:

    spec.py      the study spec (YAML): budget, policy space, objectives, sampler, pruner, heartbeat
    policy.py    a policy's knobs -> the data keys of a concrete training set within the budget
    storage.py   storage URLs (SQLite, any SQLAlchemy URL, journal files) and opening them
    liveness.py  who runs a trial, heartbeats, failing and retrying the trials of dead workers
    worker.py    one Optuna worker: trains the suggested policies and scores them (imports torch)
    driver.py    creates or resumes the study and runs K workers as Ray tasks (or one in-process)
    report.py    Optuna's figures, the best policies and their sweep specs, one HTML page
    cli.py       ``phasescape study`` and ``phasescape study-report``

Why Optuna workers on Ray rather than Ray Tune: Optuna owns the trial lifecycle (asking, pruning, retries of
trials whose worker died) in a storage that any process can reach; Ray only places the worker processes. So more
workers can feed the same study from anywhere, and ``optuna trials`` / ``optuna-dashboard`` read it unchanged.

Example::

    from sweep.study.driver import run_study
    from sweep.study.spec import load_spec
    from sweep.study.storage import storage_url

    spec = load_spec("studies/budget_tiny.yaml")
    study = run_study(spec, storage_url(spec, "results"), "results", workers=2)
    print(study.best_trial.params)
"""
