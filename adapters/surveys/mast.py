"""A small client of the MAST portal API (``/api/v0/invoke``): one JSON request, polled until complete."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from virtualobserver.adapters.http.fetcher import BadAnswer, HttpFetcher
from virtualobserver.domain.errors import SurveyError, TransientSurveyError

__all__ = ["INVOKE_PATH", "MastAnswer", "MastApi", "decode_answer", "filters"]

#: Path of the MAST API request endpoint, relative to the archive's base URL.
INVOKE_PATH = "api/v0/invoke"


@dataclass
class MastAnswer:
    """A complete MAST answer.

    ``rows`` are dicts (column -> value), as MAST sends them with ``format: json``;
    ``fields`` are the ``{name, type}`` column descriptions.
    """

    service: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    paging: dict[str, Any] = field(default_factory=dict)
    msg: str = ""


def filters(**criteria: Any) -> list[dict[str, Any]]:
    """Return MAST ``filters`` for a Filtered service: one ``{paramName, values}`` per criterion.

    Parameters
    ----------
    **criteria
        Column name to one value or a list of values.

    Returns
    -------
    list of dict
        The ``filters`` parameter.

    Examples
    --------
    >>> filters(obs_collection="TESS")
    [{'paramName': 'obs_collection', 'values': ['TESS']}]
    """
    return [
        {"paramName": name, "values": list(value) if isinstance(value, (list, tuple)) else [value]}
        for name, value in criteria.items()
    ]


def decode_answer(body: bytes, service: str) -> dict[str, Any]:
    """Parse one MAST answer body.

    Parameters
    ----------
    body : bytes
        HTTP body.
    service : str
        Service asked, for messages.

    Returns
    -------
    dict
        The answer with ``status``, ``msg``, ``data``, ``fields``, ``paging``.

    Raises
    ------
    BadAnswer
        With ``retry=True`` if the body is not a JSON object with a ``status``
        (a cut or garbled answer is worth asking again).
    """
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadAnswer(f"MAST {service} answer is not JSON ({exc})", retry=True) from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise BadAnswer(f"MAST {service} answer has no 'status'", retry=True)
    return answer


class MastApi:
    """Ask MAST portal services through an :class:`~adapters.http.fetcher.HttpFetcher`.

    MAST answers a long query with ``status: "EXECUTING"`` and expects the
    same request again; this re-posts up to ``max_polls`` times, ``poll_s``
    apart, then gives up with a transient error (the query may finish later).

    Parameters
    ----------
    fetcher : HttpFetcher
        Fetcher of the archive (retries, rate limit, offline mode).
    max_polls : int
        Requests per query while MAST answers EXECUTING.
    poll_s : float
        Seconds between two of those requests.
    max_pages : int
        Pages read per query before refusing (a guard against runaway answers).
    sleep : callable
        ``time.sleep`` or a test double.
    """

    def __init__(self, fetcher: HttpFetcher, *, max_polls: int = 10, poll_s: float = 2.0, max_pages: int = 20,
                 sleep: Callable[[float], None] = time.sleep):
        self.fetcher = fetcher
        self.max_polls = max_polls
        self.poll_s = poll_s
        self.max_pages = max_pages
        self.sleep = sleep

    def invoke(self, service: str, params: dict[str, Any], *, what: str = "",
               pagesize: int = 50000) -> MastAnswer:
        """Run one MAST service to completion and return all its rows.

        Parameters
        ----------
        service : str
            Service name, e.g. ``"Mast.Caom.Filtered"``.
        params : dict
            The service's ``params``.
        what : str
            What the query is for (the source name), for messages.
        pagesize : int
            Rows per page.

        Returns
        -------
        MastAnswer
            Rows of every page.

        Raises
        ------
        SurveyError
            If MAST answers with an error status, or with more than ``max_pages`` pages.
        TransientSurveyError
            If MAST is still EXECUTING after ``max_polls`` requests, or the
            fetcher runs out of retries.
        """
        result = MastAnswer(service)
        page = 1
        while True:
            answer = self._complete_page(service, params, page, pagesize, what)
            result.rows.extend(answer.get("data") or [])
            result.fields = answer.get("fields") or result.fields
            result.paging = answer.get("paging") or {}
            result.msg = str(answer.get("msg") or "")
            pages = int(result.paging.get("pagesFiltered") or 1)
            if page >= pages:
                return result
            if page >= self.max_pages:
                raise SurveyError(f"MAST {service} for {what or 'query'}: more than {self.max_pages} pages "
                                  f"of {pagesize} rows; narrow the query")
            page += 1

    def _complete_page(self, service: str, params: dict[str, Any], page: int, pagesize: int,
                       what: str) -> dict[str, Any]:
        request = {"service": service, "format": "json", "params": params, "pagesize": pagesize, "page": page}
        form = {"request": json.dumps(request, separators=(",", ":"))}
        label = f"{what} ({service})" if what else service
        for poll in range(self.max_polls):
            if poll:
                self.sleep(self.poll_s)
            body = self.fetcher.fetch(INVOKE_PATH, data=form, method="POST", validate=_validator(service),
                                      what=label)
            answer = decode_answer(body, service)
            status = str(answer["status"]).upper()
            if status == "COMPLETE":
                return answer
            if status != "EXECUTING":
                raise SurveyError(f"MAST {service} for {what or 'query'} failed: status {answer['status']!r}, "
                                  f"message {answer.get('msg')!r}")
        raise TransientSurveyError(f"MAST {service} for {what or 'query'} still EXECUTING after "
                                   f"{self.max_polls} requests; try again later")


def _validator(service: str) -> Callable[[bytes], None]:
    def validate(body: bytes) -> None:
        decode_answer(body, service)

    return validate
