"""The simulator: deterministic, streamed == in memory, and its ground truth is recoverable."""

import anndata as ad
import numpy as np
import pytest

from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.data.simulate import PRESETS, make_truth, simulate, write_simulation
from vcc_core.data.summary import knockdown
from vcc_core.keys import CONTROL, PERT_COL, UNS_TRUTH


def test_shape_and_layout(tiny):
    cfg = PRESETS["tiny"]
    assert tiny.shape == (cfg.n_control + cfg.n_perts * cfg.cells_per_pert, cfg.n_genes)
    assert (tiny.obs[PERT_COL] == CONTROL).sum() == cfg.n_control
    assert tiny.obs[PERT_COL].nunique() == cfg.n_perts + 1
    assert np.array_equal(tiny.X.data, np.round(tiny.X.data))


def test_deterministic_and_seeded(tiny):
    again = simulate("tiny")
    assert (again.X != tiny.X).nnz == 0
    other = simulate("tiny", seed=1)
    assert (other.X != tiny.X).nnz > 0


def test_streamed_file_equals_in_memory(tiny, tmp_path):
    seen = []
    path = write_simulation(tmp_path / "tiny.h5ad", "tiny", progress=lambda done, total: seen.append((done, total)))
    back = ad.read_h5ad(path)
    assert (back.X != tiny.X).nnz == 0
    assert back.obs[PERT_COL].tolist() == tiny.obs[PERT_COL].tolist()
    assert seen[-1][0] == seen[-1][1] == tiny.n_obs
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.h5ad"]


def test_gene_means_are_heavy_tailed_and_libraries_vary():
    data = simulate("small")
    means = np.asarray(data.X.mean(axis=0)).ravel()
    assert np.quantile(means, 0.5) < 1.0  # most genes lowly expressed
    assert means.max() > 100 * np.quantile(means, 0.5)  # a few very high
    totals = np.asarray(data.X.sum(axis=1)).ravel()
    assert 0.2 < np.std(np.log(totals)) < 0.6


def test_knockdown_visible_in_pseudobulk():
    data = simulate("small")
    table = knockdown(pseudobulk(data, space="counts"))
    truth = data.uns[UNS_TRUTH]
    expected = np.log2(1 - np.asarray(truth["knockdown"]))
    observed = table.set_index("perturbation").loc[truth["perts"], "log2fc"].to_numpy()
    assert table["measured"].all()
    assert np.all(observed < -1.0)  # at least a halving for 70-95% knockdowns
    assert np.corrcoef(expected, observed)[0, 1] > 0.5


def test_effect_families_show_in_delta_correlation():
    data = simulate("small")
    profiles = pseudobulk(data, space="counts")
    truth = data.uns[UNS_TRUTH]
    order = [list(truth["perts"]).index(p) for p in profiles.perts]
    family, strength = np.asarray(truth["family"])[order], np.asarray(truth["strength"])[order]
    corr = np.corrcoef(profiles.delta)
    strong = (strength[:, None] > 0.3) & (strength[None, :] > 0.3) & ~np.eye(family.size, dtype=bool)
    same = family[:, None] == family[None, :]
    assert corr[strong & same].mean() > 0.4
    assert abs(corr[strong & ~same].mean()) < 0.2


def test_undetectable_and_external_screen():
    truth = make_truth(PRESETS["small"])
    assert (truth.strength == 0).any()
    assert truth.strength.max() / truth.strength[truth.strength > 0].min() > 10
    assert truth.external_delta.shape == truth.log_effect.shape
    # The external screen shares programs: families correlate there too, but not perfectly.
    corr = np.corrcoef(truth.external_delta)
    same = (truth.family[:, None] == truth.family[None, :]) & ~np.eye(truth.family.size, dtype=bool)
    assert corr[same].mean() > corr[~same].mean() + 0.2


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'; choose one of screen, small, vcc, tiny"):
        simulate("huge")


def test_preset_file_is_written_once_then_reused(tmp_path, tiny):
    from vcc_core.data.simulate import preset_file

    path = preset_file("tiny", folder=tmp_path)
    stamp = path.stat().st_mtime_ns
    assert preset_file("tiny", folder=tmp_path) == path
    assert path.stat().st_mtime_ns == stamp
    assert (ad.read_h5ad(path).X != tiny.X).nnz == 0


def test_parallel_workers_write_the_same_file(tiny, tmp_path):
    path = write_simulation(tmp_path / "tiny.h5ad", "tiny", workers=2)
    assert (ad.read_h5ad(path).X != tiny.X).nnz == 0


def test_negative_binomial_sampler_matches_the_distribution():
    from scipy import stats

    from vcc_core.data.nbinom import negative_binomial_csr

    size = np.array([0.5, 3.0, 0.5])
    mean = np.tile([[1.7, 0.05, 30.0]], (200_000, 1)).astype(np.float32)
    draws = negative_binomial_csr(np.random.default_rng(1), mean, size).toarray()
    for col, (r, mu) in enumerate(zip(size, mean[0], strict=True)):
        pmf = stats.nbinom.pmf(np.arange(4), r, r / (r + mu))
        observed = np.array([(draws[:, col] == k).mean() for k in range(4)])
        assert np.abs(observed - pmf).max() < 4 * np.sqrt(pmf * (1 - pmf) / mean.shape[0]).max() + 1e-4
        assert draws[:, col].mean() == pytest.approx(mu, rel=0.03)


def test_a_damaged_builtin_dataset_is_simulated_again(tmp_path, caplog):
    from vcc_core.data.simulate import preset_file

    path = preset_file("tiny", seed=5, folder=tmp_path)
    manifest = path.with_name(path.name + ".manifest.json")
    assert manifest.is_file()
    original = ad.read_h5ad(path).X.toarray()
    stamp = path.stat().st_mtime_ns
    assert preset_file("tiny", seed=5, folder=tmp_path).stat().st_mtime_ns == stamp  # intact: read, not rebuilt

    size = path.stat().st_size
    with path.open("r+b") as handle:  # truncated, as a full disk or a killed copy leaves it
        handle.truncate(size // 2)
    with caplog.at_level("WARNING", logger="vcc_core.data.simulate"):
        rebuilt = preset_file("tiny", seed=5, folder=tmp_path)
    assert [r.getMessage() for r in caplog.records] == [
        f"built-in dataset {path} is damaged (it no longer matches its manifest); simulating it again"
    ]
    np.testing.assert_array_equal(ad.read_h5ad(rebuilt).X.toarray(), original)

    with path.open("r+b") as handle:  # one byte flipped in the middle: the size still matches
        handle.seek(size // 2)
        byte = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    caplog.clear()
    with caplog.at_level("WARNING", logger="vcc_core.data.simulate"):
        np.testing.assert_array_equal(ad.read_h5ad(preset_file("tiny", seed=5, folder=tmp_path)).X.toarray(), original)
    assert len(caplog.records) == 1


def test_a_builtin_dataset_from_before_manifests(tmp_path):
    from vcc_core.data.simulate import preset_file

    path = preset_file("tiny", seed=6, folder=tmp_path)
    manifest = path.with_name(path.name + ".manifest.json")
    manifest.unlink()
    stamp = path.stat().st_mtime_ns
    assert preset_file("tiny", seed=6, folder=tmp_path).stat().st_mtime_ns == stamp  # readable: kept
    assert manifest.is_file()  # and given a manifest
    manifest.unlink()
    path.write_bytes(b"not an h5ad file")  # unreadable and no manifest: simulated again
    assert ad.read_h5ad(preset_file("tiny", seed=6, folder=tmp_path)).n_obs == 780
