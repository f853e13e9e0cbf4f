"""Reading a paged billing list by what the replies say, not by what was asked (pure, no I/O).

Servers cap the page size below the ``p_cnt`` a client asks for, so a page shorter than asked is not
the last one when the reply's ``p_elems`` says more rows exist. `Pager` decides which page to ask for
next and when the list is complete; `BillingClient` sends the requests. The pager keeps no rows: each
`Pager.take` hands back the rows of that page, so a caller reading page by page holds one page at a
time (plus the previous one, kept to spot a server that answers the same page again).
"""

from __future__ import annotations

from cloudkit.billing import _wire
from cloudkit.errors import ResponseDecodeError

__all__ = ["Pager"]

MAX_PAGES = 10_000
"""The default hard cap on the pages of one list (``BillingSettings.max_pages``)."""


class Pager:
    """Which page to ask for next, and how many rows were read so far.

    With a total (``p_elems``), pages are read until that many rows are in, whatever page size the
    server really used: the first page's length is taken as the server's page size and asked for
    (``p_cnt``) from then on, so the offsets line up whether the server pages by the size asked or by
    its own. Without a total, the list ends at the first empty page or the first short page (fewer
    rows than the page size in force: ``p_cnt`` as asked, or the smaller ``p_cnt`` the reply reports).
    A server that keeps answering page 1 (it ignores ``p_num``) ends a list without a total; with one,
    as with an empty page or a middle page of another size before the total, the replies contradict
    each other and `ResponseDecodeError` is raised rather than returning a partial list or looping.
    More than ``max_pages`` pages also raise `ResponseDecodeError` (raise the setting for a huge list).

    Example:
        >>> pager = Pager(page_size=100, max_pages=10, operation="list_accounts")
        >>> def reply(ids):
        ...     return {"p_elems": {"$": "3"}, "elem": [{"id": {"$": str(i)}} for i in ids]}
        >>> pager.next_params()
        {'p_cnt': '100', 'p_num': '1'}
        >>> [row["id"]["$"] for row in pager.take(reply([1, 2]))]  # the server capped the page at 2
        ['1', '2']
        >>> pager.next_params()
        {'p_cnt': '2', 'p_num': '2'}
        >>> [row["id"]["$"] for row in pager.take(reply([3]))]
        ['3']
        >>> pager.next_params() is None, pager.read
        (True, 3)
    """

    def __init__(self, *, page_size: int, max_pages: int = MAX_PAGES, operation: str) -> None:
        """Start before page 1, asking ``page_size`` rows a page."""
        self.read = 0
        """How many rows the pages taken so far added to the list."""
        self._size = page_size
        self._max_pages = max_pages
        self._operation = operation
        self._number = 0
        self._previous: list[_wire.Row] | None = None
        self._done = False

    def next_params(self) -> dict[str, str] | None:
        """``p_cnt`` and ``p_num`` of the next page, or None when the list is complete."""
        if self._done:
            return None
        if self._number >= self._max_pages:
            raise self._error(
                "$.doc.p_elems",
                f"the list did not end within {self._max_pages} pages ({self.read} rows read);"
                " raise BillingSettings.max_pages if it is really that long",
            )
        self._number += 1
        return {"p_cnt": str(self._size), "p_num": str(self._number)}

    def take(self, doc: _wire.Doc) -> list[_wire.Row]:
        """Account for the reply to the page `next_params` asked for; its rows that belong to the list.

        A page a server without ``p_elems`` answered again adds nothing (an empty list is returned).
        """
        page = _wire.page_of(doc, operation=self._operation)
        number, batch = self._number, page.rows
        repeated = (page.number is not None and page.number != number) or (
            number > 1 and bool(batch) and batch == self._previous
        )
        if page.total is None:
            size = min(self._size, page.size) if page.size else self._size
            self._done = repeated or len(batch) < size
            self._size, self._previous = size, batch
            if repeated:
                return []
            self.read += len(batch)
            return batch
        read = self.read
        if repeated:
            answered = page.number if page.number is not None and page.number != number else "an earlier page"
            raise self._error(
                "$.doc.p_num",
                f"page {number} was asked and {answered} answered, with {read} of {page.total} rows read",
            )
        self.read += len(batch)
        if self.read >= page.total:
            self._done = True
        elif not batch:
            raise self._error(
                "$.doc.elem",
                f"page {number} is empty, but $.doc.p_elems says {page.total} rows and {read} were read",
            )
        elif number == 1:
            self._size = len(batch)  # the page size the server really used
        elif len(batch) != self._size:
            raise self._error(
                "$.doc.elem",
                f"page {number} has {len(batch)} rows where earlier pages had {self._size},"
                f" before the {page.total} rows $.doc.p_elems says",
            )
        self._previous = batch
        return batch

    def _error(self, path: str, problem: str) -> ResponseDecodeError:
        return ResponseDecodeError(
            "billing list pages do not add up",
            problems=(f"{path}: {problem}",),
            system=_wire.SYSTEM,
            operation=self._operation,
        )
