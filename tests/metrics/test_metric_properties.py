"""Properties every registered metric must have: perfect predictions score best, shuffled ones worse; PDS limits."""

import numpy as np
import pytest

from vcc_core.metrics import REGISTRY, MetricInputs, get_metric, list_metrics, register
from vcc_core.metrics.discrimination import discrimination_score

SCORED = [name for name, info in REGISTRY.items() if info.best != "none"]


def make_inputs(pred_rows=None, *, n_perts=10, n_genes=80, seed=0) -> MetricInputs:
    """Real arrays with signal; the prediction copies the rows ``pred_rows`` of them (default: perfect)."""
    rng = np.random.default_rng(seed)
    genes = np.array([f"g{i}" for i in range(n_genes)])
    perts = np.concatenate([genes[:5], [f"x{i}" for i in range(n_perts - 5)]])
    control = rng.uniform(0.0, 2.0, n_genes)
    density = np.linspace(0.1, 0.5, n_perts)[:, None]  # perturbations differ in their number of DE genes
    delta = rng.normal(0.0, 0.6, (n_perts, n_genes)) * (rng.random((n_perts, n_genes)) < density)
    delta += rng.normal(0.0, 0.01, delta.shape)
    fdr = np.where(np.abs(delta) > 0.3, rng.uniform(1e-6, 0.01, delta.shape), rng.uniform(0.2, 1.0, delta.shape))
    lfc = 3.0 * delta
    rows = np.arange(n_perts) if pred_rows is None else pred_rows
    edistance = np.linalg.norm(delta, axis=1) ** 2  # the energy distance grows with the effect
    return MetricInputs(
        perts, genes, control + delta, control + delta[rows], control, control, fdr, fdr[rows], lfc, lfc[rows],
        real_edistance=edistance, pred_edistance=edistance[rows],
    )  # fmt: skip


def values(name: str, inputs: MetricInputs) -> np.ndarray:
    (column,) = get_metric(name).compute(inputs).values()
    return column.compressed()[~np.isnan(column.compressed())]


@pytest.mark.parametrize("name", SCORED)
def test_perfect_prediction_scores_best(name):
    got = values(name, make_inputs())
    assert got.size > 0
    best = 1.0 if get_metric(name).best == "one" else 0.0
    np.testing.assert_allclose(got, best, atol=1e-12)


@pytest.mark.parametrize("name", SCORED)
def test_shuffled_labels_score_worse(name):
    perfect = values(name, make_inputs()).mean()
    shuffled = values(name, make_inputs(np.roll(np.arange(10), 3))).mean()
    assert shuffled < perfect if get_metric(name).best == "one" else shuffled > perfect


def test_l1_pds_of_a_vanishing_prediction_tends_to_chance():
    inputs = make_inputs(n_perts=30, seed=1)
    none = np.full(30, -1)
    means = [discrimination_score(inputs.real_delta, s * inputs.real_delta, target_cols=none).mean() for s in (1, 1e-6)]
    assert means[0] == 1.0
    assert means[1] == pytest.approx(31 / 60)  # (N + 1) / (2N): the truth ranks by real-delta norm alone


@pytest.mark.parametrize("name", ["discrimination_score_cosine", "discrimination_score_sign_cosine"])
@pytest.mark.parametrize("scale", [0.05, 20.0])
def test_cosine_pds_ignores_the_scale_of_predictions(name, scale):
    inputs = make_inputs(np.roll(np.arange(10), 1))
    scaled = MetricInputs(
        inputs.perts, inputs.genes, inputs.real_means, inputs.pred_control + scale * inputs.pred_delta,
        inputs.real_control, inputs.pred_control,
    )  # fmt: skip
    np.testing.assert_array_equal(values(name, inputs), values(name, scaled))


def test_registry_entries_are_documented():
    for info in REGISTRY.values():
        assert info.best in ("zero", "one", "none")
        assert info.description
        assert info.func.__doc__, info.name
    assert set(list_metrics(kind="de")) | set(list_metrics(kind="pair")) | {"pearson_edistance"} == set(REGISTRY)
    assert list_metrics(kind="cells") == ["pearson_edistance"]
    assert "discrimination_score_sign_cosine" in list_metrics(reference=False)


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        register("mae", np.mean, needs=("real_means",), best="zero", kind="pair", description="dup")
    with pytest.raises(ValueError, match="unknown inputs"):
        register("new_metric", np.mean, needs=("real_fdrs",), best="zero", kind="pair", description="typo")
    with pytest.raises(KeyError, match="unknown metric 'maee'"):
        get_metric("maee")


def test_inputs_check_shapes_and_de_metrics_need_de():
    inputs = make_inputs()
    with pytest.raises(ValueError, match=r"real_fdr has shape \(3,\)"):
        MetricInputs(inputs.perts, inputs.genes, inputs.real_means, inputs.pred_means,
                     inputs.real_control, inputs.pred_control, real_fdr=np.zeros(3))  # fmt: skip
    no_de = MetricInputs(inputs.perts, inputs.genes, inputs.real_means, inputs.pred_means,
                         inputs.real_control, inputs.pred_control)  # fmt: skip
    with pytest.raises(ValueError, match="needs DE results"):
        get_metric("overlap_at_N").compute(no_de)
    assert inputs.target_cols.tolist() == [0, 1, 2, 3, 4, -1, -1, -1, -1, -1]
