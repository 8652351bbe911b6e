"""CMFL in a round (Wang, Wang, Li, ICDCS 2019): the share of updates relevant enough to upload, given as
a fraction or derived from a relevance threshold and either the local/global update correlation (a model
of sign agreement) or given updates (planner.cost.federated_cmfl). Checks and derivation."""

from __future__ import annotations

from typing import Any

from planner.api.fl_common import check_fraction
from planner.errors import SettingError


def check_cmfl(
    threshold: float | None, correlation: float | None, updates: str | None, relevant: float
) -> None:
    """A threshold with exactly one of correlation / updates, and no given fraction beside them."""
    given = [correlation is not None, updates is not None]
    if threshold is None:
        if any(given):
            raise SettingError(
                "cmfl_threshold", "give the relevance threshold CMFL uploads at", show_got=False
            )
        return
    check_fraction("cmfl_threshold", threshold, low_open=False)
    if sum(given) != 1:
        raise SettingError(
            "update_correlation",
            "give the update correlation or an updates file, one of them",
            show_got=False,
        )
    if relevant != 1.0:
        raise SettingError(
            "relevant_fraction", "is derived from cmfl_threshold: do not give both", show_got=False
        )
    if correlation is not None and not -1 <= correlation <= 1:  # also refuses NaN
        raise SettingError("update_correlation", "expected a correlation in [-1, 1]", correlation)


def relevant_fraction(
    relevant: float, threshold: float | None, correlation: float | None, updates: str | None, parameters: int
) -> float:
    """The share of updates uploaded: `relevant` as given without a threshold; else the probability that
    a client's relevance reaches it, by sign agreement (Sheppard 1899) at `correlation`, or the share of
    the given `updates` (.npz) whose relevance reaches it."""
    if threshold is None:
        return relevant
    from planner.cost import federated_cmfl as cmfl

    if correlation is not None:
        return float(cmfl.upload_probability(cmfl.sign_agreement(correlation), parameters, threshold))
    assert updates is not None
    local, global_update = load_updates(updates)
    try:
        relevance = cmfl.relevance_of_updates(local, global_update)
    except ValueError as exc:
        raise SettingError("updates", f"{updates}: {exc}", show_got=False) from None
    return float((relevance >= threshold).mean())


def load_updates(path: str) -> tuple[Any, Any]:
    """The `updates` (clients x parameters) and `global_update` arrays of a .npz file."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["updates"], dtype=float), np.asarray(data["global_update"], dtype=float)
    except (OSError, ValueError, KeyError) as exc:
        raise SettingError(
            "updates",
            f"{path}: expected a .npz with arrays updates and global_update ({exc})",
            show_got=False,
        ) from None
