"""Carry a published posterior over to a changed model, after re-checking it against the targets.

A posterior is fitted to one model. When the model's behaviour changes (``stale_reasons`` sees another
fingerprint), the honest options are a re-fit or a *carry-over*: keep the particles, re-check them with
a posterior-predictive run of every calibration target on the current model, and record in the JSON
beside the posterior that they were fitted on an older model, what was re-checked, with which result
and why the re-fit waits. ``python -m experiments carry-posterior --reason TEXT`` does that; the model's
fingerprint is then the current one, so the posterior is used again, and every reader of the JSON
(``python -m sim calibrate --posterior``, reports) can say so. A carry-over is not a fit: targets that
fail are listed in the record, never hidden, and the particles are not moved.

Only a pair written by ``--publish`` (or by an earlier carry-over) is rewritten (``check_publish_target``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from experiments.calibration.publish import check_publish_target
from experiments.running.provenance import model_version, package_versions
from experiments.running.spec import SpecError
from experiments.running.store import write_text


def carry_over(path: Path, reason: str, draws: int = 40, progress: Callable | None = None) -> dict:
    """Re-check the posterior at ``path`` on the current model and record the carry-over in its JSON.

    Returns the record appended to the JSON's ``carried_over`` list. Raises :class:`SpecError` (one
    line) for an empty reason, a pair ``--publish`` did not write, or a posterior that is stale for
    another reason than the model's behaviour (changed targets need a re-fit)."""
    from sim.outputs.calibration import posterior_predictive
    from sim.outputs.posterior import FINGERPRINT_SEEDS, fingerprint, load_posterior, stale_reasons

    path = Path(path)
    reason = " ".join(str(reason).split())
    if not reason:
        raise SpecError("carry-posterior --reason: say why the posterior is carried over instead of re-fitted")
    check_publish_target(path)
    post = load_posterior(path)
    stale = stale_reasons(post)
    other = [r for r in stale if not r.startswith("the model's behaviour changed")]
    if other:
        raise SpecError(f"carry-posterior {path}: {other[0]}; a carry-over only follows a change of the model's "
                        "behaviour: re-fit (python -m experiments calibrate configs/experiments/calibrate.toml --publish)")
    if not stale:
        raise SpecError(f"carry-posterior {path}: already current for this model; nothing to carry over")
    _, table = posterior_predictive(post, n=draws, seed=1, progress=progress)
    prov = dict(post.provenance)
    failing = table.loc[~table["pass"], "target"].tolist()
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "from_model_version": prov.get("model_version_now", prov.get("model_version")),
        "to_model_version": model_version(),
        "packages": package_versions(),  # of the re-check's runs
        "reason": reason,
        "previous_fingerprint": prov.get("fingerprint"),
        "recheck": {"draws": draws, "targets_pass": f"{int(table['pass'].sum())}/{len(table)}", "failing": failing,
                    "rows": [{k: (float(v) if isinstance(v, float) else v) for k, v in row.items()
                              if k in ("target", "median", "p05", "p95", "band_low", "band_high", "pass")}
                             for row in table.to_dict("records")]},
    }
    prov["carried_over"] = [*prov.get("carried_over", []), record]
    prov["model_version_now"] = record["to_model_version"]
    prov["fingerprint_seeds"] = list(FINGERPRINT_SEEDS)
    prov["fingerprint"] = fingerprint(post.mean())
    write_text(json.dumps(prov, indent=2, ensure_ascii=False, default=_plain) + "\n", path.with_suffix(".json"))
    return record


def _plain(x):
    """numpy scalars in the record (pass flags, numbers) as JSON values."""
    return x.item() if hasattr(x, "item") else str(x)
