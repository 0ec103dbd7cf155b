"""The session budget: estimates reserved by creates, and the one check that refuses spending.

Every refusal (one request in ``submit``, a whole sweep of the magic, a whole grid) goes through
:meth:`Budget.check`, so they apply the same rule and say the same thing.
"""

from __future__ import annotations

import threading

from .errors import BudgetExceededError

#: Rounding slack when comparing sums of estimates with the budget.
_SLACK = 1e-9


class Budget:
    """USD committed by this session's creates, against an optional limit: each job's estimate,
    replaced by its real cost once the provider reports it (``Engine.settle_cost``)."""

    def __init__(self, limit_usd: float | None = None) -> None:
        #: Session budget in USD (estimates); None = no limit. Settable at any time.
        self.limit_usd = limit_usd
        self._reserved = 0.0
        self._lock = threading.Lock()

    @property
    def reserved_usd(self) -> float:
        return self._reserved

    def check(self, total: float, *, what: str = "this request", outcome: str = "Nothing was sent") -> None:
        """Refuse (BudgetExceededError) when ``total`` more USD would pass the budget.

        ``what`` names what was asked ("this request", "this sweep of 4 jobs"), ``outcome`` what
        the refusal left undone; both go into the one message every front door shows.
        """
        limit = self.limit_usd
        if limit is None:
            return
        spent = self._reserved
        if spent + total <= limit + _SLACK:
            return
        raise BudgetExceededError(
            f"refused before sending: {what} is estimated at ${total:.2f}; with ${spent:.2f} already "
            f"committed this session (billed where the provider reported it, else estimated) it would "
            f"pass the budget of ${limit:.2f}. {outcome} (estimates from a published list price; the "
            "gateway's bill may differ). Raise budget_usd to allow it."
        )

    def check_priced(
        self, estimate: float | None, *, what: str = "this request", outcome: str = "Nothing was sent"
    ) -> None:
        """Refuse (BudgetExceededError) a request with no estimate (None) while a budget is set:
        "unknown" is never counted as free. ``what`` names the model(s) without a price."""
        limit = self.limit_usd
        if estimate is not None or limit is None:
            return
        raise BudgetExceededError(
            f"refused before sending: no price is known for {what}, so it cannot be checked against "
            f"the budget of ${limit:.2f}. {outcome}. Remove the budget (budget_usd=None) to allow it."
        )

    def reserve(self, estimate: float | None, *, checked: bool = True, what: str = "this request") -> float:
        """Reserve ``estimate`` (checked against the budget first unless ``checked=False``, for a
        task that exists already); returns the amount reserved. No estimate (None) reserves
        nothing and, when checked, is refused under a budget (``what`` names its model)."""
        with self._lock:
            if checked:
                self.check_priced(estimate, what=what)
                self.check(estimate or 0.0)
            self._reserved += estimate or 0.0
        return estimate or 0.0

    def release(self, amount: float) -> None:
        """Give back a reservation (nothing was created)."""
        with self._lock:
            self._reserved = max(0.0, self._reserved - amount)
