"""``prep``: a submission checked against a gene list and written compact (cell-eval's ``prep`` checks)."""

import anndata as ad
import numpy as np
import pytest
from scipy import sparse

from tests.evaluation.test_evaluate import DATA
from vcc_core.__main__ import main
from vcc_core.data.normalize import log1p_normalize
from vcc_core.evaluation.prep import prepare


def gene_file(path, genes):
    path.write_text("\n".join(genes) + "\n")
    return path


def test_prep_puts_genes_in_the_list_order_and_writes_a_minimal_file(tmp_path, capsys):
    pred = DATA / "synthetic" / "pred.h5ad"
    source = ad.read_h5ad(pred)
    genes = list(source.var_names[::-1])  # the same genes, in another order
    out = tmp_path / "sub.h5ad"
    assert (
        main(["prep", "--pred", str(pred), "--genes", str(gene_file(tmp_path / "g.csv", genes)), "--out", str(out)])
        == 0
    )
    assert "the gene list holds 300 genes" in capsys.readouterr().out
    written = ad.read_h5ad(out)
    assert list(written.var_names) == genes
    assert list(written.obs.columns) == ["target_gene"]
    assert list(written.obs_names[:3]) == ["0", "1", "2"]
    assert sparse.issparse(written.X)
    assert written.X.dtype == np.float32
    np.testing.assert_array_equal(written.X.toarray(), source[:, genes].X.toarray())  # log1p values kept as they are
    assert written.obs["target_gene"].tolist() == source.obs["target_gene"].astype(str).tolist()


def test_prep_normalises_counts():
    real = DATA / "synthetic" / "real.h5ad"
    source = ad.read_h5ad(real)
    minimal = prepare(real, list(source.var_names), encoding=64)
    assert minimal.X.dtype == np.float64
    np.testing.assert_allclose(minimal.X.toarray(), log1p_normalize(source).X.toarray(), rtol=1e-6)


def test_prep_refuses_what_the_challenge_refuses():
    source = ad.read_h5ad(DATA / "synthetic" / "pred.h5ad")
    genes = list(source.var_names)
    with pytest.raises(ValueError, match=r"predictions and the gene list differ: 1 missing from predictions \(NEW\)"):
        prepare(source.copy(), [*genes[1:], "NEW"])
    with pytest.raises(ValueError, match="780 cells: at most 100 can be submitted"):
        prepare(source.copy(), genes, max_cells=100)
    with pytest.raises(ValueError, match="encoding must be 32 or 64"):
        prepare(source.copy(), genes, encoding=16)
    with pytest.raises(ValueError, match="obs has no context column 'cell_line'"):
        prepare(source.copy(), genes, context_col="cell_line")
