"""REPRODUCTION.md sections on the paper's generalization claim (issue 16), from the CSVs of
`make reproduce-figures`' generalize steps: flatter minima? lower test error? at which
thresholds? Every verdict follows the rule written beside it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from moxco_cli.experiments.generalize import NEGATIVE_CURVATURE, negative_curvature_cell
from moxco_cli.stats import p_value

NAMES = {"gd": "GD", "adam": "Adam", "gd+moxco": "GD+MoXCo", "adam+moxco": "Adam+MoXCo"}
ALPHA = 0.05  # significance of the sign test
SMALL_EFFECT = 0.05  # median paired changes all below 5% of the inner median: called small


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    return pd.read_csv(path) if path.exists() else None


def _table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _g(v, digits=3) -> str:
    return "inf" if v == math.inf else f"{v:.{digits}g}"


def _sizes(folder: Path) -> dict:
    import json

    return json.loads((folder / "config.json").read_text()).get("sizes", {})


def _paired_rows(paired, dist, metric, landscape):
    """Table rows and (flatter/lower, higher, none, largest relative change) for `metric`."""
    rows, wins, losses, rel = [], 0, 0, []
    for r in paired[paired.metric == metric].itertuples():
        inner = dist[(dist.method == r.against) & (dist.lr == r.lr) & (dist.metric == metric)]
        base = float(inner["median"].iloc[0]) if not inner.empty else math.nan
        change = r.median_difference / base if base and math.isfinite(base) else math.nan
        significant = r.sign_test_p < ALPHA and r.method_lower != r.method_higher
        if significant:
            wins += r.method_lower > r.method_higher
            losses += r.method_lower < r.method_higher
        if math.isfinite(change):
            rel.append(change)
        rows.append({
            "landscape": landscape, "pair": f"{NAMES.get(r.method, r.method)} - "
            f"{NAMES.get(r.against, r.against)}", "lr": f"{r.lr:g}",
            "median paired difference [95% CI]": f"{_g(r.median_difference)} "
            f"[{_g(r.ci_low)}, {_g(r.ci_high)}]",
            "relative to the inner optimizer's median": f"{change:+.1%}"
            if math.isfinite(change) else "-",
            "MoXCo lower / higher / tied / both diverged":
                f"{r.method_lower} / {r.method_higher} / {r.ties} / "
                f"{int(r.both_diverged)}",
            "sign test p": p_value(r.sign_test_p, ".2g")})
    return rows, wins, losses, rel


def _verdict(wins, losses, total, rel, what, other) -> str:
    largest = max(rel, key=abs) if rel else math.nan
    size = (f"; every median paired change is within {abs(largest):.1%} of the inner "
            f"optimizer's median: significant or not, the effect is small"
            if abs(largest) < SMALL_EFFECT else
            f"; the largest median paired change is {largest:+.1%} of the inner optimizer's "
            "median")
    tally = (f"MoXCo {what} in {wins} and {other} in {losses} of the {total} (method, lr) pairs "
             f"(exact sign test, p < {ALPHA:g}), no difference in the rest{size}")
    if wins and not losses:
        return "holds: " + tally
    if wins:
        return "holds only partly: " + tally
    return "does not hold: " + tally


def _not_minima(dist: pd.DataFrame, landscape: str) -> tuple[str, int, int]:
    """(sentence, end points with negative curvature, finite end points) over the (method,
    lr) cells of `dist` (`negative_curvature` column; an older CSV without it: no sentence)."""
    rows = dist[dist.metric == "final_lam_max"]
    if "negative_curvature" not in rows:
        return "", 0, 0
    negative = int(rows.negative_curvature.sum())
    alive = rows.runs - rows.diverged
    finite = int(alive.sum())
    text = f"{landscape}, {negative} of {finite} finite end points"
    if negative:  # the cells with the largest share (ties all named)
        share = rows.negative_curvature / alive.where(alive > 0)
        top = rows[share == share.max()]
        cells = ", ".join(f"{NAMES.get(r.method, r.method)} at lr {r.lr:g}" for r in
                          top.itertuples())
        text += f" (at most {top.negative_curvature.iloc[0]}/{int(alive[top.index[0]])}: {cells})"
    return text, negative, finite


def section_flatness(folder: Path):
    net_p, net_d = _read(folder, "net_paired.csv"), _read(folder, "net_distributions.csv")
    fac_p, fac_d = (_read(folder, "factorization_paired.csv"),
                    _read(folder, "factorization_distributions.csv"))
    if net_p is None or fac_p is None:
        return None
    sizes = _sizes(folder)
    rows, wins, losses, rel = _paired_rows(net_p, net_d, "final_lam_max", "two-layer-net")
    more = _paired_rows(fac_p, fac_d, "final_lam_max", "factorization")
    rows += more[0]
    wins, losses, rel = wins + more[1], losses + more[2], rel + more[3]
    answer = _verdict(wins, losses, len(rows), rel, "ends flatter", "sharper")
    net_text, net_neg, net_finite = _not_minima(net_d, "two-layer-net")
    fac_text, fac_neg, fac_finite = _not_minima(fac_d, "factorization")
    # the claim is about minima: say, per landscape, how many compared end points are none
    caveats = [f"{neg} of {finite} {name} end points have negative curvature (not minima"
               + ("; the comparison there is mostly of where the runs stopped)"
                  if neg > finite / 2 else ")")
               for name, neg, finite in (("two-layer-net", net_neg, net_finite),
                                         ("factorization", fac_neg, fac_finite)) if neg]
    if caveats:
        answer += "; but " + " and ".join(caveats)
    med = fac_d[fac_d.metric == "final_lam_max"]
    fac_rows = [{"method": NAMES.get(r.method, r.method), "lr": f"{r.lr:g}",
                 "median final lam_max [95% CI]": f"{_g(r.median)} [{_g(r.ci_low)}, "
                 f"{_g(r.ci_high)}]", "2/lr": f"{2 / r.lr:g}",
                 **({"negative curvature": negative_curvature_cell(r)}
                    if "negative_curvature" in med else {}),
                 "diverged": f"{r.diverged}/{r.runs}"} for r in med.itertuples()]
    minima = ("" if not (net_text and fac_text) else f"""**Are the end points minima?** An end
point whose exact Hessian has an eigenvalue below -{NEGATIVE_CURVATURE:g} |lam_max| has negative
curvature: a saddle, or a slope still being descended, not a minimum (`final_lam_min` in the
runs.csv of `moxco generalize`; counts per method and lr in the factorization table above
and in the two-layer-net table of the next section). On {net_text}; on {fac_text}. A
non-negative lam_min alone does not make a point a minimum (the gradient need not vanish);
this counts only the end points that certainly are none.

""")

    text = f"""## Does MoXCo reach flatter minima? (the paper's title claim, at toy size)

**Question.** The paper's claim is that exploring, then committing by the goodness score, ends
in *flatter* minima. Claim tested: X+MoXCo ends at a smaller final lam_max than X from the
same initialization.

**Protocol** (`moxco generalize`, [Networks and
factorization](../docs/method.md#networks-and-factorization)). `two-layer-net` (the
authors' model: 5 relu units, 30 noisy points of the tent, noise 0.8, f_target = noise^2)
from {sizes.get('net_inits', '?')} network initializations, and
`factorization` (depth 2, `0.5 (w0 w1 - 1)^2`, every point of `w0 w1 = 1` a minimum with
lam_max = 1/w0^2 + 1/w1^2, the flattest = 2) from {sizes.get('factorization_inits', '?')}
uniform starts on [-3, 3]^2; the same starts for every method and lr,
{sizes.get('net_steps', '?')} steps, Figure 1's momenta, threshold 0.85 and tau 0.15. Each
X+MoXCo run is paired with the X run from the same start at the same lr; a diverged run
counts +inf.

**Command.** `moxco generalize two-layer-net` and `moxco generalize factorization --lrs
0.05,0.2,0.5`

**Measured: paired differences of final lam_max** (`net_paired.csv`, `factorization_paired.csv`):

{_table(pd.DataFrame(rows))}

**Which minimum is selected on factorization** (`factorization_distributions.csv`; flattest
minima: lam_max = 2; GD cannot settle where lam_max > 2/lr):

{_table(pd.DataFrame(fac_rows))}

{minima}**Verdict: {answer}.**

![net distributions](figures/net_distributions.png)
![net paired](figures/net_paired.png)
![factorization sharpness](figures/factorization_sharpness.png)
![factorization outcome map](figures/factorization_outcome_map.png)
"""
    return text, ("Flatter minima (the paper's title claim, beyond its figures)", answer)


def section_test_error(folder: Path):
    paired, dist = _read(folder, "net_paired.csv"), _read(folder, "net_distributions.csv")
    corr = _read(folder, "net_correlation.csv")
    if paired is None or corr is None:
        return None
    rows, wins, losses, rel = _paired_rows(paired, dist, "test_mse", "two-layer-net")
    answer = _verdict(wins, losses, len(rows), rel, "has the lower test error", "the higher")
    med = dist[dist.metric == "test_mse"]
    med_rows = [{"method": NAMES.get(r.method, r.method), "lr": f"{r.lr:g}",
                 "median test MSE [95% CI]": f"{_g(r.median)} [{_g(r.ci_low)}, {_g(r.ci_high)}]",
                 "committed": f"{r.committed}/{r.runs}",
                 **({"negative curvature": negative_curvature_cell(r)}
                    if "negative_curvature" in med else {}),
                 "diverged": f"{r.diverged}/{r.runs}"}
                for r in med.itertuples()]
    corr_rows = [{"method": NAMES.get(r.method, r.method), "lr": str(r.lr),
                  "Spearman rho(test MSE, final lam_max) [95% CI]":
                  f"{r.rho:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]", "runs": r.runs}
                 for r in corr.itertuples()]
    per_lr = corr[corr.lr.astype(str) != "all"]
    positive = int((per_lr.ci_low > 0).sum())
    negative = int((per_lr.ci_high < 0).sum())
    sharp_note = (f"Within one lr, a sharper end point goes with a higher test error in "
                  f"{positive} and with a lower one in {negative} of the {len(per_lr)} "
                  "(method, lr) cells (95% interval excluding 0)")
    text = f"""## Does MoXCo reach lower test error? (the paper's abstract, at toy size)

**Question.** Flat minima matter because they are supposed to generalize. Claim tested:
X+MoXCo's fitted network has a lower test error (MSE against the noise-free truth at 30 test
inputs) than X's from the same initialization. And, separately: does a flatter end point go
with a lower test error at all, once the learning rate is held fixed (sharpness tracks the
step size, a known confounder)?

**Protocol.** As above (`two-layer-net`, paired initializations, lrs 0.01, 0.05, 0.2).
Spearman's rank correlation over the runs of one method at one lr, with a Fisher-z 95%
interval; "all" pools the lrs (what a plot of every run would suggest).

**Command.** `moxco generalize two-layer-net`

**Measured: medians** (`net_distributions.csv`):

{_table(pd.DataFrame(med_rows))}

**Measured: paired differences of test MSE** (`net_paired.csv`):

{_table(pd.DataFrame(rows))}

**Sharpness against test error** (`net_correlation.csv`): {sharp_note}.

{_table(pd.DataFrame(corr_rows))}

**Verdict: {answer}.**

![fitted functions](figures/net_fit.png)
![training curves](figures/net_curves.png)
![sharpness and test error](figures/net_sharpness.png)
"""
    return text, ("Lower test error (the paper's abstract, beyond its figures)", answer)


def section_thresholds(folder: Path):
    table, dist = _read(folder, "net_thresholds.csv"), _read(folder, "net_distributions.csv")
    if table is None or table.empty:
        return None
    rows, helped, hurt = [], set(), set()
    for r in table.itertuples():
        inner = r.method.removesuffix("+moxco")
        ref = dist[(dist.method == inner) & (dist.lr == r.lr) & (dist.metric == "test_mse")]
        if ref.empty:
            continue
        ref = ref.iloc[0]
        if r.test_mse_ci_high < ref.ci_low:
            helped.add(r.method)
            word = "lower"
        elif r.test_mse_ci_low > ref.ci_high:
            hurt.add(r.method)
            word = "higher"
        else:
            word = "intervals overlap"
        rows.append({"method": NAMES.get(r.method, r.method), "lr": f"{r.lr:g}",
                     "threshold": f"{r.threshold:g}",
                     "median test MSE [95% CI]": f"{_g(r.test_mse_median)} "
                     f"[{_g(r.test_mse_ci_low)}, {_g(r.test_mse_ci_high)}]",
                     "against the inner optimizer at this lr (median [95% CI])":
                     f"{word}: {NAMES.get(inner, inner)} {_g(ref['median'])} "
                     f"[{_g(ref.ci_low)}, {_g(ref.ci_high)}]",
                     "committed [95% CI]": f"{r.committed_fraction:.0%} "
                     f"[{r.committed_ci_low:.0%}, {r.committed_ci_high:.0%}]",
                     "median commit step": "-" if not np.isfinite(r.median_commit_step)
                     else f"{r.median_commit_step:g}"})
    methods = list(dict.fromkeys(table.method))
    tally = (f"a threshold with a lower test error than the inner optimizer (the intervals "
             f"apart) exists for {len(helped)} of the {len(methods)} MoXCo methods"
             + (f" ({', '.join(NAMES.get(m, m) for m in helped)})" if helped else "")
             + (f"; a higher one for {', '.join(NAMES.get(m, m) for m in sorted(hurt))}"
                if hurt else ""))
    if len(helped) == len(methods):
        answer = "holds: " + tally
    elif helped:
        answer = "holds only partly: " + tally
    else:
        answer = "does not hold: " + tally
    lr = float(table.lr.iloc[0])
    text = f"""## At which commit thresholds? (the authors' threshold experiment)

**Question.** The authors' code plots validation MSE against the commit threshold (after
overwriting two points and smoothing the rest). Claim tested: some commit threshold gives
X+MoXCo a lower test error than X. Drawn raw: every threshold tried is a point with its 95%
bootstrap interval; nothing is smoothed or replaced.

**Protocol.** `two-layer-net`, the same initializations, lr {lr:g}, thresholds
{', '.join(f'{t:g}' for t in sorted(table.threshold.unique()))} (tau 0.15), each against
the inner optimizer at the same lr. A method that does not commit keeps exploring with its
momenta (0.9, 0.9 for GD; 0.95, 0.5 for Adam) for the whole run. Goodness at a network
initialization is already near 0.85 (|f - noise^2| and the gradient are small on this
scale), so at low thresholds MoXCo commits within the first steps and is its inner optimizer
with a few steps of momentum.

**Command.** `moxco generalize two-layer-net --thresholds 0.85,0.95,0.99,0.999`

**Measured** (`net_thresholds.csv`):

{_table(pd.DataFrame(rows))}

**Verdict: {answer}.**

![threshold sweep](figures/net_thresholds.png)
"""
    return text, ("Commit threshold and test error (the authors' experiment)", answer)
