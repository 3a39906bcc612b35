"""The front door for the common Python use of D-DOS: campaign → model → F, transition, tune.

    from thermograd.ddos import Coefficients, Phase

    bcc, fcc = Phase.open("bcc.h5"), Phase.open("fcc.h5")          # campaign (or model) files
    theta = Coefficients.from_snapcoeff("X_Fe.snapcoeff", bcc.n_features)
    r = bcc.free_energy(theta, [1000.0, 2000.0], convention="cell")  # FreeEnergyResult, accurate route
    model = bcc.fit(save="bcc-model.h5")                               # the microsecond score model
    tc = bcc.transition(fcc, theta, np.linspace(500, 2500, 81))        # TransitionResult
    tuned = bcc.tune(fcc, theta, 1063.0)                               # TuneResult

A :class:`Phase` holds what is known of one phase at one cell: the campaign's data set (raw samples, tilted
shells) and/or a fitted score model. :meth:`Phase.estimator` picks the route: ``"accurate"`` (the cumulant
closure with the exact α integral, MBAR on tilted shells; needs the campaign), ``"score"`` (the fitted model;
fitted on demand) or ``"auto"`` (accurate when the campaign is there). Everything it returns is the one
estimator protocol of :mod:`thermograd.free_energy`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["Phase"]

ROUTES = ("auto", "accurate", "score")


class Phase:
    """One phase at one cell (see the module docstring).

    Args:
        dataset: a :class:`~thermograd.ddos.dataset.PhaseDataset` (from a campaign), or None.
        model: a fitted :class:`~thermograd.ddos.estimators.model.DDOSModel`, or None.
        tilted: tilted shells of the data set ({shell index: TiltedShell}), for the accurate route.
    """

    def __init__(self, dataset=None, model=None, tilted: dict | None = None):
        if dataset is None and model is None:
            raise InputError("a Phase needs a campaign data set or a fitted model")
        self.dataset, self.model, self.tilted = dataset, model, dict(tilted or {})
        self._estimators: dict = {}

    # ------------------------------------------------------------ construction
    @classmethod
    def open(cls, path, phase: str | None = None, strain: float | None = None, tilted=()) -> Phase:
        """A phase from a campaign file (``phase``/``strain`` select the data set when there are several;
        ``tilted``: tilt files of it) or from a model file."""
        from ..outputs import hdf5_format

        if hdf5_format(path) != "thermograd-campaign":
            from .importers import load_model

            if tilted:
                raise InputError(f"{path} is a model file; tilt files serve the campaign route")
            model = load_model(path)
            if phase is not None and phase != model.name:
                raise InputError(f"{path} is a model of phase {model.name!r}, not {phase!r}")
            return cls(model=model)
        from .sampling.campaign import load_datasets
        from .sampling.tilt_campaign import load_tilted

        sets = [
            d
            for d in load_datasets(path, require_complete=True)
            if (phase is None or d.name == phase) and (strain is None or abs(d.strain - strain) < 1e-12)
        ]
        if len(sets) != 1:
            what = "no data set" if not sets else f"{len(sets)} data sets"
            raise InputError(
                f"{path}: {what} for phase={phase!r}, strain={strain!r}; choose with phase/strain"
            )
        tilts: dict = {}
        for t in tilted:
            tilts.update(load_tilted(t, sets[0]))
        return cls(dataset=sets[0], tilted=tilts)

    @classmethod
    def sample(cls, run_file, **campaign_options) -> list[Phase]:
        """Run (or resume) the campaign of a run file; one :class:`Phase` per (phase, strain) of it.
        ``campaign_options`` go to :func:`~thermograd.ddos.sampling.campaign.run_campaign` (executor, workers,
        scheduler, progress)."""
        from .sampling.campaign import load_datasets, run_campaign_file

        summary = run_campaign_file(Path(run_file), **campaign_options)
        return [cls(dataset=d) for d in load_datasets(summary.path, require_complete=True)]

    # ------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return (self.dataset or self.model).name

    @property
    def n_features(self) -> int:
        return int((self.dataset or self.model).n_features)

    def fit(self, save=None, **fit_options):
        """Fit (once) and return the score model of the campaign's data set; ``save``: a model file to write
        (atomically). ``fit_options`` go to :meth:`~thermograd.ddos.estimators.model.DDOSModel.fit`."""
        if self.model is None or fit_options:
            if self.dataset is None:
                raise InputError(f"phase {self.name!r} has a model but no campaign data set to fit")
            from .estimators.model import DDOSModel

            self.model = DDOSModel.fit(self.dataset, **fit_options)
            self._estimators.clear()
        if save is not None:
            from ..outputs import atomic_path

            with atomic_path(save) as tmp:
                self.model.save(tmp)
        return self.model

    # ------------------------------------------------------------ estimation
    def estimator(self, route: str = "auto", method: str | None = None):
        """The :class:`~thermograd.free_energy.FreeEnergyEstimator` of ``route`` (cached); ``method``: the shell
        term of the accurate route ("gamma" or "reweight"), or the score model's ("fast", "table", "exact")."""
        if route not in ROUTES:
            raise InputError(f"unknown route {route!r}; use one of {', '.join(ROUTES)}")
        if route == "auto":
            route = "accurate" if self.dataset is not None and self.dataset.has_raw else "score"
        key = (route, method)
        if key not in self._estimators:
            if route == "accurate":
                if self.dataset is None or not self.dataset.has_raw:
                    raise InputError(
                        f"phase {self.name!r}: the accurate route needs a campaign with raw samples"
                    )
                from .estimators.cumulant import CumulantEstimator

                est = CumulantEstimator(self.dataset, tilted=self.tilted, method=method or "gamma")
            else:
                est = self.fit().estimator(method or "fast")
            self._estimators[key] = est
        return self._estimators[key]

    def free_energy(
        self, coefficients, T, *, convention: str = "ddos", route: str = "auto", method=None, with_grad=False
    ):
        """F(θ, T) ± σ of every model at every temperature (a FreeEnergyResult); ``route`` and ``method`` as in
        :meth:`estimator`."""
        est = self.estimator(route, method)
        return est.predict(coefficients, T, convention=convention, with_grad=with_grad)

    def transition(
        self, other: Phase, coefficients, T, *, convention: str = "ddos", route: str = "auto", method=None
    ):
        """Crossing temperature of this phase (A) and ``other`` (B) for one model (a TransitionResult)."""
        from ..thermo.transition import transition_temperature

        a, b = self.estimator(route, method), other.estimator(route, method)
        return transition_temperature(a, b, coefficients, T, convention=convention)

    def tune(self, other: Phase, coefficients, target_Tc: float, *, route="auto", method=None, **options):
        """Move the A→B crossing to ``target_Tc`` by Gauss–Newton steps on θ (a TuneResult); ``options`` go to
        :func:`~thermograd.thermo.tune.tune_transition` (keep, ridge, max_steps, T_grid, convention)."""
        from ..thermo.tune import tune_transition

        a, b = self.estimator(route, method), other.estimator(route, method)
        return tune_transition(a, b, coefficients, target_Tc, **options)

    def __repr__(self) -> str:
        parts = [f"campaign data set (strain {self.dataset.strain:g})" if self.dataset is not None else ""]
        parts.append(f"model (order {self.model.order})" if self.model is not None else "")
        parts.append(f"tilted shells {sorted(self.tilted)}" if self.tilted else "")
        return f"Phase({self.name!r}: {', '.join(p for p in parts if p)})"
