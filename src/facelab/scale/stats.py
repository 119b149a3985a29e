"""The explore report's label statistics on Spark DataFrames: balance per split, co-occurrence,
P(A | B), correlations, and the per-attribute logistic regression (Spark MLlib).

The counts are exact integer sums computed by Spark; the probabilities and correlations are then
derived from them by :func:`facelab.explore.stats.stats_from_counts`, the same code the pandas
path uses, so both agree to floating-point rounding (tests: 1e-9).

The regressions use MLlib's ``LogisticRegression`` on exactly the rows and the 75/25 split the
local :func:`facelab.explore.logreg.attribute_models` would use (the split is drawn with the
same numpy seed and carried as a column). The two solvers differ, so the scores are not
identical: liblinear (local) minimises ``||w||^2 / 2 + C * sum(loss)`` and penalises the
intercept too; MLlib minimises ``mean(loss) + regParam * ||w||^2 / 2``, here with
``regParam = 1 / (C * n_train)`` (the same penalty) and an unpenalised intercept. On CelebA the
accuracies agree within 0.002 and the F1 within 0.01 (``bench/scale.py`` prints the largest
differences); tests allow 0.02 on small synthetic tables.

Example: docs/python.md#scale-out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..explore.logreg import AttributeModel
from ..explore.stats import AttributeStats, stats_from_counts
from .spark import get_spark

TEST_COLUMN = "_facelab_test"


def to_spark(labels: pd.DataFrame, names: list[str], *, master: str | None = None, seed: int = 0,
             test_fraction: float = 0.25):
    """A pandas label table → Spark DataFrame (``split``, the 0/1 ``names`` as bytes, and the
    held-out flag of :func:`facelab.explore.logreg.attribute_models`'s split)."""
    spark = get_spark(master)
    n = len(labels)
    test = np.zeros(n, bool)
    test[_test_rows(n, test_fraction, seed)] = True
    pdf = pd.DataFrame({"split": labels["split"].astype(str).to_numpy() if "split" in labels else "unknown"})
    for c in names:
        pdf[c] = labels[c].to_numpy(dtype=np.int8)
    pdf[TEST_COLUMN] = test
    return spark.createDataFrame(pdf)


def _test_rows(n: int, test_fraction: float, seed: int) -> np.ndarray:
    # exactly the draw of explore.logreg.attribute_models
    perm = np.random.default_rng(seed).permutation(n)
    return perm[:max(1, int(round(n * test_fraction)))]


def spark_attribute_stats(df, names: list[str]) -> AttributeStats:
    """:func:`facelab.explore.stats.attribute_stats` of the 0/1 columns ``names`` of a Spark DataFrame.

    Each partition computes its co-occurrence matrix ``X.T @ X`` (and its row count) with numpy,
    in ``mapInPandas``; the driver adds the partial matrices up, as a Gramian ``treeAggregate``
    would. The products are float64 sums of 0/1 values, exact below 2**53 rows. (One Spark
    aggregation with a ``sum(a * b)`` per pair, 820 expressions for CelebA, was 60x slower.)"""
    m = len(names)
    cols = list(names)

    def gram(frames):
        for pdf in frames:
            X = pdf[cols].to_numpy(np.float64)
            C = X.T @ X
            yield pd.DataFrame({"n": [len(X)], "c": [C.round().astype(np.int64).ravel().tolist()]})

    parts = df.select(*[f"`{c}`" for c in cols]).mapInPandas(gram, schema="n long, c array<long>").collect()
    n = int(sum(r["n"] for r in parts))
    full = np.zeros((m, m), np.int64)
    for r in parts:
        full += np.asarray(r["c"], np.int64).reshape(m, m)
    col_sum = np.diag(full).copy()
    is_const = (col_sum == 0) | (col_sum == n)
    constant = {nm: int(col_sum[j] == n and n > 0) for j, nm in enumerate(names) if is_const[j]}
    keep = np.flatnonzero(~is_const)
    return stats_from_counts(full[np.ix_(keep, keep)], [names[j] for j in keep], constant, n)


def split_balance(df, names: list[str]) -> pd.DataFrame:
    """Rows per split and the share of each 0/1 attribute in it, on Spark (index: split).

    The pandas equivalent is :func:`split_balance_pandas`."""
    from pyspark.sql import functions as F

    agg = df.groupBy("split").agg(F.count(F.lit(1)).alias("rows"),
                                  *[F.sum(F.col(f"`{c}`").cast("long")).alias(c) for c in names]).toPandas()
    return _balance_frame(agg.set_index("split"), names)


def split_balance_pandas(labels: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """:func:`split_balance` with pandas (what explore computes from its label table)."""
    g = labels.groupby("split")
    agg = g[names].sum().astype(np.int64)
    agg.insert(0, "rows", g.size())
    return _balance_frame(agg, names)


def _balance_frame(agg: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({"rows": agg["rows"].astype(np.int64)})
    for c in names:
        out[c] = agg[c].astype(np.float64) / agg["rows"].astype(np.float64)
    return out.sort_index()


def spark_attribute_models(df, names: list[str], *, top: int = 3, C: float = 1.0,
                           max_iter: int = 100, targets: list[str] | None = None,
                           parallel: int = 4) -> list[AttributeModel]:
    """One MLlib logistic regression per attribute from the others, scored on the held-out rows.

    Args:
        df: a DataFrame from :func:`to_spark` (the held-out flag decides the rows).
        names: the non-constant attributes (``AttributeStats.names``).
        top, C: as :func:`facelab.explore.logreg.attribute_models` (C = liblinear's inverse penalty).
        max_iter: LBFGS iterations.
        targets: fit only these attributes (default: every one of ``names``), each from all the others.
        parallel: attributes fitted at the same time (concurrent Spark jobs from driver threads).
    """
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler, VectorSlicer
    from pyspark.sql import functions as F

    m = len(names)
    feats = VectorAssembler(inputCols=list(names), outputCol="_x").transform(
        df.select(*[F.col(f"`{c}`").cast("double").alias(c) for c in names], TEST_COLUMN))
    feats = feats.cache()
    train, test = feats.where(~F.col(TEST_COLUMN)), feats.where(F.col(TEST_COLUMN))
    n_train = train.count()
    shares = feats.agg(*[F.avg(c).alias(c) for c in names]).collect()[0].asDict()

    def fit(j: int) -> AttributeModel:
        target = names[j]
        others = [i for i in range(m) if i != j]
        # the features without the target's own column
        sl = VectorSlicer(inputCol="_x", outputCol="_f", indices=others)
        # only the sliced features and the label, cached: LBFGS passes over them once per iteration
        tr = sl.transform(train).select("_f", F.col(f"`{target}`").alias("_y")).cache()
        te = sl.transform(test).select("_f", F.col(f"`{target}`").alias("_y"))
        if tr.select("_y").distinct().count() < 2:  # nothing to learn: the training value, as locally
            const = float(tr.select("_y").first()[0]) if n_train else 0.0
            pred, coefs = te.select(F.col("_y"), F.lit(const).alias("prediction")), np.zeros(len(others))
        else:
            lr = LogisticRegression(featuresCol="_f", labelCol="_y", regParam=1.0 / (C * max(n_train, 1)),
                                    elasticNetParam=0.0, standardization=False, maxIter=max_iter, tol=1e-6)
            model = lr.fit(tr)
            pred = model.transform(te).select("_y", "prediction")
            coefs = model.coefficients.toArray()
        c = pred.agg(F.sum(((F.col("_y") == 1) & (F.col("prediction") == 1)).cast("long")).alias("tp"),
                     F.sum(((F.col("_y") == 0) & (F.col("prediction") == 1)).cast("long")).alias("fp"),
                     F.sum(((F.col("_y") == 1) & (F.col("prediction") == 0)).cast("long")).alias("fn"),
                     F.count(F.lit(1)).alias("n"), F.avg("_y").alias("share")).collect()[0]
        tp, fp, fn, n = (int(c[k] or 0) for k in ("tp", "fp", "fn", "n"))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        share = float(c["share"] or 0.0)
        tr.unpersist()
        order = np.argsort(-np.abs(coefs))[:top]
        return AttributeModel(
            target=target, prevalence=float(shares[target]), accuracy=(n - fp - fn) / max(n, 1),
            baseline=max(share, 1 - share), precision=prec, recall=rec, f1=f1,
            top=[(names[others[i]], float(coefs[i])) for i in order if coefs[i] != 0])

    from concurrent.futures import ThreadPoolExecutor

    chosen = [j for j, t in enumerate(names) if targets is None or t in targets]
    # Each L-BFGS iteration is a small Spark job whose scheduling, not its arithmetic, costs most
    # on a 202,599 x 40 table: fitting several attributes at once keeps the executors busy.
    with ThreadPoolExecutor(max_workers=max(1, int(parallel))) as pool:
        out = list(pool.map(fit, chosen))
    feats.unpersist()
    return out


def use_spark_for_explore(ctx, master: str | None = None) -> None:
    """Fill an explore :class:`~facelab.explore.sections.Context` with statistics computed on Spark.

    The attribute statistics (counts, P(A | B), correlations) and the per-attribute regressions
    (on every label row, not explore's 50,000-row sample) come from Spark; the sections then draw
    them exactly as they draw the local results."""
    src = ctx.src
    names = list(src.attributes)
    if not names:
        return
    labels = src.labels
    ctx.cache["X"] = labels[names].to_numpy(dtype=np.int8)  # the clustering section reads it
    df = to_spark(labels, names, master=master, seed=ctx.seed).cache()
    st = spark_attribute_stats(df, names)
    ctx.cache["stats"] = st
    if len(st.names) >= 2 and st.n >= 8:
        ctx.cache["models"] = spark_attribute_models(df, st.names)
    df.unpersist()
    spark = get_spark(master)
    ctx.rep.notes.append(f"Label statistics and regressions computed on Spark ({spark.sparkContext.master}, "
                         f"{st.n:,} rows).")


def explore_spark(data, *, master: str | None = None, engine: str = "spark", **kwargs):
    """:func:`facelab.explore.report.explore` with the label statistics and regressions computed on
    Spark (every row); ``engine="local"``: the ordinary explore. ``kwargs`` go to ``explore``."""
    from ..explore.report import explore
    from .spark import check_engine

    if check_engine(engine) == "local":
        return explore(data, **kwargs)
    get_spark(master)  # fail (pyspark, Java) before reading anything
    return explore(data, statistics=lambda ctx: use_spark_for_explore(ctx, master), **kwargs)
